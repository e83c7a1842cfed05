"""Use cases of the supplier portal: QMS and ERP answers, filtered to the supplier in the token.

Every record is checked against the token's supplier_id after it is fetched; another supplier's
record is answered exactly like one that does not exist (404), so ids cannot be probed. Cases
QMS has not yet issued to the supplier are internal drafts and are not shown either.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import msgspec

from contracts.clients.answers import critical, optional
from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Clients
from contracts.clients.qms import QmsClient
from contracts.clients.qms_documents import QmsDocumentsClient
from contracts.kit.auth import Principal
from contracts.kit.paging import PageQuery
from contracts.kit.problems import NotFound, Problem, Unprocessable
from contracts.kit.wire.documents import Document
from contracts.kit.wire.projection import project
from contracts.models import qms
from contracts.models import supplier as m
from contracts.tenancy import sees_case, sees_inspection
from experience_apis.supplier_portal import scorecard as scorecards

T = TypeVar("T")
C = TypeVar("C", bound=m.Case)
Warnings = list[tuple[str, str]]
CASE_NOT_FOUND = "No such supplier quality case."
LOT_NOT_FOUND = "No such inspection lot."
DOCUMENT_NOT_FOUND = "No such document."


@dataclass
class Upstreams(Clients):
    qms: QmsClient
    erp: ErpClient
    documents: QmsDocumentsClient


@dataclass(frozen=True)
class Supplier:
    supplier_id: str
    client_id: str

    @property
    def key(self) -> str:
        """How QMS names the supplier as an uploader (contracts/kit/acting.py)."""
        return f"supplier:{self.supplier_id}"


def supplier(principal: Principal) -> Supplier:
    if not principal.supplier_id:
        raise Problem(
            "This API is for suppliers: the token must name a supplier_id.",
            status=403,
            slug="not-a-supplier",
            title="Not a supplier token",
        )
    return Supplier(principal.supplier_id, principal.client_id)


def _params(query: PageQuery, **filters: Any) -> dict[str, Any]:
    params = {
        "limit": query.limit,
        "cursor": query.cursor,
        "updated_since": query.updated_since.isoformat() if query.updated_since else None,
        **filters,
    }
    return {k: v for k, v in params.items() if v is not None}


def visible(case: qms.SupplierCase, who: Supplier) -> bool:
    return sees_case(who.supplier_id, case.supplier_id, case.status, case.issued_at is not None)


# --- cases -----------------------------------------------------------------------------------------
async def list_cases(up: Upstreams, who: Supplier, query: PageQuery, status: str | None) -> m.CasePage:
    page = await critical(
        "qms",
        up.qms.list_supplier_cases_page(_params(query, supplier_id=who.supplier_id, status=status)),
        CASE_NOT_FOUND,
    )
    return m.CasePage(
        items=[_case(c, m.Case) for c in page.items if visible(c, who)], next_cursor=page.next_cursor
    )


async def owned_case(up: Upstreams, who: Supplier, case_id: str) -> qms.SupplierCase:
    case = await critical("qms", up.qms.get_supplier_case(case_id), CASE_NOT_FOUND)
    if not visible(case, who):
        raise NotFound(CASE_NOT_FOUND)
    return case


async def case_detail(up: Upstreams, who: Supplier, case_id: str) -> m.CaseDetail:
    case = await owned_case(up, who, case_id)
    return await _detail(up, who, case)


async def _detail(up: Upstreams, who: Supplier, case: qms.SupplierCase) -> m.CaseDetail:
    warnings: Warnings = []
    found = await asyncio.gather(
        *(optional("qms", up.qms.get_nonconformance(n), warnings) for n in case.nc_ids)
    )
    # QMS refuses to link another supplier's NC to a case; checked again here all the same.
    ncs = [nc for nc in found if nc is not None and nc.supplier_id in (None, who.supplier_id)]
    return _case(
        case,
        m.CaseDetail,
        nonconformances=[project(nc, m.CaseNonconformance) for nc in ncs],
        warnings=[m.UpstreamWarning(source=s, detail=d) for s, d in dict.fromkeys(warnings)],
    )


def _case(case: qms.SupplierCase, shape: type[C], **more: Any) -> C:
    """The case as the supplier sees it: `shape`'s fields only (responses as `Verdict`s)."""
    return project(case, shape, awaiting_response=case.status == qms.SupplierCaseStatus.ISSUED, **more)


async def respond(
    up: Upstreams, who: Supplier, case_id: str, data: m.CaseResponse, if_match: str | None, key: str | None
) -> m.CaseDetail:
    await owned_case(up, who, case_id)
    # The downstream key follows from the client's, so a resent answer is replayed by QMS too.
    base = key or uuid.uuid4().hex
    derived = (
        "portal-"
        + hashlib.sha256(f"{who.client_id}\n{who.supplier_id}\n{case_id}\n{base}".encode()).hexdigest()[:40]
    )
    await _own_documents(up, who, data.attachments)
    answer = qms.SupplierResponseCreate(**msgspec.structs.asdict(data))
    case = await critical(
        "qms",
        up.qms.respond_to_supplier_case(case_id, answer, idempotency_key=derived, if_match=if_match),
        CASE_NOT_FOUND,
    )
    return await _detail(up, who, case)


async def _own_documents(up: Upstreams, who: Supplier, document_ids: list[str]) -> None:
    """A supplier attaches only documents it uploaded itself; any other id reads as unknown."""
    documents = await asyncio.gather(
        *(critical("qms", up.documents.get_document(d), DOCUMENT_NOT_FOUND) for d in document_ids),
        return_exceptions=True,
    )
    foreign = [
        d
        for d, found in zip(document_ids, documents, strict=True)
        if isinstance(found, NotFound) or (not isinstance(found, BaseException) and found.uploader != who.key)
    ]
    for found in documents:
        if isinstance(found, BaseException) and not isinstance(found, NotFound):
            raise found
    if foreign:
        raise Unprocessable(
            f"documents {', '.join(foreign)} do not exist; upload them first",
            slug="unknown-document",
            document_ids=foreign,
        )


async def upload_document(up: Upstreams, name: str, content: bytes, content_type: str) -> Document:
    return await critical(
        "qms", up.documents.upload_document(name, content, content_type), DOCUMENT_NOT_FOUND
    )


# --- inspections -----------------------------------------------------------------------------------
async def list_inspections(
    up: Upstreams, who: Supplier, query: PageQuery, result: str | None
) -> m.InspectionPage:
    page = await critical(
        "qms",
        up.qms.list_inspection_lots_page(_params(query, supplier_id=who.supplier_id, result=result)),
        LOT_NOT_FOUND,
    )
    return m.InspectionPage(
        items=[_inspection(i) for i in page.items if sees_inspection(who.supplier_id, i.supplier_id)],
        next_cursor=page.next_cursor,
    )


async def inspection(up: Upstreams, who: Supplier, inspection_lot_id: str) -> m.LotInspection:
    lot = await critical("qms", up.qms.get_inspection_lot(inspection_lot_id), LOT_NOT_FOUND)
    if not sees_inspection(who.supplier_id, lot.supplier_id):
        raise NotFound(LOT_NOT_FOUND)
    return _inspection(lot)


def _inspection(lot: qms.InspectionLot) -> m.LotInspection:
    decision = lot.usage_decision
    return project(
        lot,
        m.LotInspection,
        characteristics=[
            m.CharacteristicResult(
                code=c.code,
                description=c.description,
                evaluation=c.result.evaluation.value if c.result else None,
                value=c.result.value if c.result else None,
                unit=(c.result.unit if c.result else None) or c.unit,
            )
            for c in lot.characteristics
        ],
        disposition=decision.disposition.value if decision else None,
        decided_at=decision.decided_at if decision else None,
    )


# --- scorecard -------------------------------------------------------------------------------------
async def scorecard(
    up: Upstreams,
    who: Supplier,
    *,
    since: date | None = None,
    until: date | None = None,
    period: m.Period | None = None,
    today: date | None = None,
) -> m.Scorecard:
    warnings: Warnings = []
    cases, inspections, receipts = await asyncio.gather(
        critical("qms", up.qms.list_supplier_cases(supplier_id=who.supplier_id), CASE_NOT_FOUND),
        critical("qms", up.qms.list_inspection_lots(supplier_id=who.supplier_id), LOT_NOT_FOUND),
        optional("erp", up.erp.supplier_receipts(who.supplier_id), warnings),
    )
    return scorecards.scorecard(
        who.supplier_id,
        [c for c in cases if visible(c, who)],
        inspections,
        receipts,
        today or datetime.now(UTC).date(),
        warnings,
        since=since,
        until=until,
        period=period,
    )
