"""Systems of record the ERP API can stand in front of, chosen by ERP_BACKEND."""

from __future__ import annotations

from system_apis.erp.port import ErpBackend
from system_apis.erp.settings import ErpSettings


def load(settings: ErpSettings) -> ErpBackend:
    if settings.backend == "embedded":
        from system_apis.erp.backends.embedded import EmbeddedErp

        return EmbeddedErp()
    if settings.backend == "tryton":
        # Imported only when chosen: an embedded ERP never loads the connector.
        from system_apis.erp.backends.tryton.backend import TrytonErp

        return TrytonErp(settings.tryton())
    raise ValueError(f"ERP_BACKEND must be 'embedded' or 'tryton', not {settings.backend!r}")
