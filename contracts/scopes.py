"""Every OAuth2 scope the platform's APIs check, as their committed OpenAPI documents declare it.

The documents are the contract each service is tested against, so this list cannot drift from
what the services enforce; the gateway publishes it (RFC 8414 `scopes_supported`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import msgspec

OPENAPI_DIR = Path(__file__).resolve().parent / "openapi"


@functools.cache
def api_scopes() -> dict[str, str]:
    """scope -> description, from every `contracts/openapi/<service>.v<n>.json`."""
    found: dict[str, str] = {}
    for path in sorted(OPENAPI_DIR.glob("*.json")):
        document: dict[str, Any] = msgspec.json.decode(path.read_bytes())
        for scheme in document.get("components", {}).get("securitySchemes", {}).values():
            for flow in scheme.get("flows", {}).values():
                found.update(flow.get("scopes", {}))
    return found
