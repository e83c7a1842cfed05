"""The layers below, reached with this service's own OAuth2 client; and Redis for the backbone."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from contracts.clients.base import ApiClient
from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.flows import FlowsClient, MaintenanceClient, QualityClient
from contracts.clients.outbound import Caller
from contracts.clients.qms import QmsClient
from contracts.clients.shopfloor import ShopfloorClient
from contracts.clients.webhooks import WebhooksClient
from experience_apis.operations.settings import OperationsSettings

# APIs whose audit trail the console shows (`GET /<svc>/v1/audit`); quality audits disagreements.
AUDITED = ("erp", "qms", "cmms", "mes", "quality")


class MesClient(ApiClient):
    """Only the audit trail is read from MES here."""

    service = "mes"


@dataclass
class Upstreams:
    erp: ErpClient
    qms: QmsClient
    cmms: CmmsClient
    mes: MesClient
    quality: QualityClient
    maintenance: MaintenanceClient
    webhooks: WebhooksClient
    shopfloor: ShopfloorClient
    redis: Redis
    lookback_days: int = 90
    lag_threshold: int = 100
    supervisor_state_file: str = ""
    audited: dict[str, ApiClient] = field(default_factory=dict)

    @property
    def processes(self) -> dict[str, FlowsClient]:
        return {"quality": self.quality, "maintenance": self.maintenance}

    async def aclose(self) -> None:
        for client in (
            self.erp,
            self.qms,
            self.cmms,
            self.mes,
            self.quality,
            self.maintenance,
            self.webhooks,
            self.shopfloor,
        ):
            await client.aclose()


def build(caller: Caller[OperationsSettings], redis: Redis) -> Upstreams:
    # One attempt each: a monitor that cannot reach an upstream says so at once rather than
    # holding the page while retries back off.
    settings = caller.settings
    up = Upstreams(
        erp=caller.client(ErpClient, attempts=1),
        qms=caller.client(QmsClient, attempts=1),
        cmms=caller.client(CmmsClient, attempts=1),
        mes=caller.client(MesClient, attempts=1),
        quality=caller.client(QualityClient, attempts=1),
        maintenance=caller.client(MaintenanceClient, attempts=1),
        webhooks=caller.client(WebhooksClient, attempts=1),
        shopfloor=caller.client(ShopfloorClient, attempts=1),
        redis=redis,
        lookback_days=settings.lookback_days,
        lag_threshold=settings.lag_threshold,
        supervisor_state_file=settings.supervisor_state_file,
    )
    up.audited = {"erp": up.erp, "qms": up.qms, "cmms": up.cmms, "mes": up.mes, "quality": up.quality}
    return up
