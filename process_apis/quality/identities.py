"""One thing, many ids: flows translate item and lot ids between systems through the
cross-reference registry, and never guess. An id the registry does not know is taken as the same
id in the other system only when the plant says its systems share numbers (rules
`identities.same_when_unmapped`); otherwise, or when the registry knows the thing but not its id
in the other system, the step stalls with what to register. Nothing is ever created implicitly.
"""

from __future__ import annotations

from contracts.clients.base import UpstreamProblem
from contracts.kit.flows import StepFailed
from contracts.models import xref
from process_apis.quality.deps import Upstreams

ITEM, LOT = xref.Kind.ITEM, xref.Kind.LOT
MES, ERP = xref.IdSpace.MES, xref.IdSpace.ERP


async def translate(deps: Upstreams, kind: xref.Kind, source: xref.IdSpace, id_: str, to: xref.System) -> str:
    """`id_` (an id of `source`) as system `to` knows it."""
    try:
        found = await deps.xref.system_id(kind, source, id_, to)
    except UpstreamProblem as exc:
        if exc.status != 404:
            raise
        if exc.slug == "mapping-not-found" and deps.rules.identities.same_when_unmapped:
            return id_
        raise StepFailed(
            f"{source} {kind} {id_} cannot be translated to {to}: {exc.problem.get('detail', exc.slug)}; "
            f"register its {to} id (POST /xref/v1/mappings), then retry this flow"
        ) from exc
    return found or id_


async def erp_item(deps: Upstreams, mes_item: str) -> str:
    """The ERP item of an MES material number; an id taken as it is must exist in ERP."""
    item_id = await translate(deps, ITEM, MES, mes_item, xref.System.ERP)
    if item_id == mes_item:
        try:
            await deps.erp.get_item(item_id)
        except UpstreamProblem as exc:
            if exc.status != 404:
                raise
            raise StepFailed(
                f"MES material {mes_item} is not in the cross-reference registry and ERP has no item "
                f"{mes_item}: map it to its ERP item (POST /xref/v1/mappings, kind item, system mes), "
                "then retry this flow"
            ) from exc
    return item_id
