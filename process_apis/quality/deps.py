"""What the quality flows work with: the system API clients, the plant rules, the mailer and
this service's own database."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.clients.erp import ErpClient
from contracts.clients.mes import MesClient
from contracts.clients.qms import QmsClient
from contracts.clients.xref import XrefClient
from contracts.kit.db import Database
from contracts.kit.flows import FlowContext
from process_apis.quality.mail import Mailer
from process_apis.quality.rules import QualityRules

ACTOR = "quality-process"  # how this service signs what it records in other systems


@dataclass(frozen=True)
class Upstreams:
    erp: ErpClient
    qms: QmsClient
    rules: QualityRules
    mes: MesClient
    xref: XrefClient
    mailer: Mailer
    db: Database

    async def aclose(self) -> None:
        for client in (self.erp, self.qms, self.mes, self.xref):
            await client.aclose()


Ctx = FlowContext[Upstreams]
