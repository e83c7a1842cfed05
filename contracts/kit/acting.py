"""Who a request really acts for, carried across the platform in `X-Acting-For`.

A technician's tablet calls the technician API, which calls CMMS with its own client: CMMS sees
`technician-experience`, not the person. So every service notes the verified caller of each
request as the one it acts for (`PlatformHeadersMiddleware`), and every call it makes on that
request's behalf carries it in `X-Acting-For`. A service believes the header only from the
platform's own clients (the same rule as `X-Flow-ID`), so an outside caller cannot name anyone
but itself. The audit trail then records "P-1042 (tablet-017) via technician-experience".

The value reads like a query string, each part percent-encoded:
`client=tablet-017&person=P-1042` or `client=portal-acme&supplier=SUP-ACME`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from contracts.kit import correlation

_PARTS = (("client", "client_id"), ("person", "person_id"), ("supplier", "supplier_id"))
MAX_PART = 200  # what the audit columns keep


@dataclass(frozen=True, slots=True)
class Acting:
    """The principal a request acts for; `via` is the platform client that passed it on."""

    client_id: str
    person_id: str | None = None
    supplier_id: str | None = None
    via: str | None = None

    def key(self) -> str:
        """Who this is for a four-eyes rule: the person if known, else the supplier, else the client."""
        return (
            f"person:{self.person_id}"
            if self.person_id
            else (f"supplier:{self.supplier_id}" if self.supplier_id else f"client:{self.client_id}")
        )

    def describe(self) -> str:
        who = self.person_id or self.supplier_id
        shown = f"{who} ({self.client_id})" if who else self.client_id
        return f"{shown} via {self.via}" if self.via else shown


def encode(principal: Any) -> str:
    """The header value for a verified principal (anything with client_id, person_id, supplier_id)."""
    parts = [(wire, getattr(principal, attr, None)) for wire, attr in _PARTS]
    return urlencode([(wire, str(value)[:MAX_PART]) for wire, value in parts if value])


def decode(value: str) -> Acting | None:
    if not value or not correlation.ACTING_FOR.match(value):
        return None
    try:
        found = parse_qs(value, strict_parsing=True, max_num_fields=3)
    except ValueError:
        return None
    single = {k: v[0][:MAX_PART] for k, v in found.items() if len(v) == 1 and v[0]}
    if "client" not in single or set(single) - {wire for wire, _ in _PARTS}:
        return None
    return Acting(single["client"], single.get("person"), single.get("supplier"))


def acting(direct: Any) -> Acting | None:
    """Who the current request acts for, given its verified caller: the caller itself, or (from a
    platform client that passed one on) the principal it acts for, via the caller. None when
    there is no caller (an event handler, a job)."""
    if direct is None or not getattr(direct, "client_id", None):
        return None
    claimed = decode(correlation.current().acting_for)
    if claimed is None or claimed.client_id == direct.client_id:
        return Acting(direct.client_id, direct.person_id, direct.supplier_id)
    return Acting(claimed.client_id, claimed.person_id, claimed.supplier_id, via=direct.client_id)


__all__ = ["Acting", "acting", "decode", "encode"]
