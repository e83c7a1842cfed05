"""Our canonical commands an inbound webhook may be mapped to, each a call on a system API.

Every call carries an Idempotency-Key made from the source and the `webhook-id`, so a webhook
applied once is never applied twice, even when our answer to its sender was lost and the sender
tries again, or we crashed between the call and recording it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from contracts.clients.answers import critical
from contracts.clients.qms import QmsClient
from contracts.clients.qms_v2 import QmsV2Client
from contracts.kit.problems import NotFound, Problem
from contracts.models import qms, qms_v2
from contracts.models.common import Id
from contracts.tenancy import sees_case


@dataclass(frozen=True)
class Qms:
    """QMS as the commands call it: v1 for supplier cases, v2 for measured results."""

    v1: QmsClient
    v2: QmsV2Client

    async def aclose(self) -> None:
        await self.v1.aclose()
        await self.v2.aclose()


Apply = Callable[[Qms, dict[str, Any], str | None, str], Awaitable[dict[str, Any]]]

# What a command's mapped fields must be (mapping.apply_mapping converts each one strictly, 422
# otherwise), so a command can iterate, index and send them as they are: an id goes into a URL
# path, so it must be one (no "/"); a list of results is iterated and each result read as an object.
Results = list[dict[str, Any]]


@dataclass(frozen=True)
class Command:
    name: str
    fields: dict[str, Any]  # each field it takes -> the type its value must have (msgspec)
    required: frozenset[str]
    item_fields: frozenset[str]
    apply: Apply  # (qms, mapped fields, the source's supplier, idempotency key) -> result
    for_suppliers: bool = False  # only a supplier's own system may send it


def invalid(detail: str) -> Problem:
    return Problem(detail, status=422, slug="webhook-payload-invalid", title="Webhook payload does not map")


def _convert(values: dict[str, Any], shape: type[Any]) -> Any:
    try:
        return msgspec.convert(values, shape)
    except msgspec.ValidationError as exc:
        raise invalid(f"the mapped payload is not a valid {shape.__name__}: {exc}") from exc


async def record_inspection_results(
    qms_api: Qms, fields: dict[str, Any], supplier: str | None, key: str
) -> dict[str, Any]:
    """An external inspection's results onto our inspection lot (QMS v2 measurements)."""
    lot_id: str = fields["inspection_lot_id"]
    entries = []
    for item in fields["results"]:
        value = item.get("value")
        entry = {
            "characteristic": item.get("characteristic"),
            "conforming": item.get("conforming"),
            "note": item.get("note"),
            "measurement": (
                {"value": value, "unit": item.get("unit"), "uncertainty": item.get("uncertainty")}
                if value is not None
                else None
            ),
        }
        entries.append({k: v for k, v in entry.items() if v is not None})
    # The values of each result are checked by the strict conversion (a measured value "10.0" is
    # refused, not read as a number).
    record = _convert(
        {"results": entries, **({"recorded_by": fields["recorded_by"]} if "recorded_by" in fields else {})},
        qms_v2.ResultsRecord,
    )
    if supplier is not None:
        owned = await critical("qms", qms_api.v1.get_inspection_lot(lot_id), f"No inspection lot {lot_id}.")
        if owned.supplier_id != supplier:
            raise NotFound(f"No inspection lot {lot_id}.")
    lot = await critical(
        "qms", qms_api.v2.record_results(lot_id, record, idempotency_key=key), f"No inspection lot {lot_id}."
    )
    return {
        "inspection_lot_id": lot.inspection_lot_id,
        "status": lot.status.value,
        "result": lot.result.value,
    }


async def answer_supplier_case(
    qms_api: Qms, fields: dict[str, Any], supplier: str | None, key: str
) -> dict[str, Any]:
    """A supplier's 8D answer onto its supplier case: only a case the portal shows that supplier."""
    case_id: str = fields["case_id"]
    answer = _convert({k: v for k, v in fields.items() if k != "case_id"}, qms.SupplierResponseCreate)
    case = await critical("qms", qms_api.v1.get_supplier_case(case_id), f"No supplier case {case_id}.")
    if supplier is None or not sees_case(supplier, case.supplier_id, case.status, case.issued_at is not None):
        raise NotFound(f"No supplier case {case_id}.")  # another supplier's case looks like none
    done = await critical(
        "qms",
        qms_api.v1.respond_to_supplier_case(case_id, answer, idempotency_key=key),
        f"No supplier case {case_id}.",
    )
    return {"case_id": done.case_id, "status": done.status.value, "responses": len(done.responses)}


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "record-inspection-results",
            fields={"inspection_lot_id": Id, "recorded_by": str, "results": Results},
            required=frozenset({"inspection_lot_id", "results"}),
            item_fields=frozenset({"characteristic", "value", "unit", "uncertainty", "conforming", "note"}),
            apply=record_inspection_results,
        ),
        Command(
            "answer-supplier-case",
            fields={
                "case_id": Id,
                "containment": str,
                "root_cause": str,
                "corrective_action": str,
                "responded_by": str,
            },
            required=frozenset({"case_id", "containment", "root_cause", "corrective_action"}),
            item_fields=frozenset(),
            apply=answer_supplier_case,
            for_suppliers=True,
        ),
    )
}
