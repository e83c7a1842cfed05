"""QMS settings, read from QMS_* environment variables."""

from __future__ import annotations

from datetime import datetime

from contracts.kit.settings import ServiceSettings
from contracts.topology import by_name


class QmsSettings(ServiceSettings, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///data/qms.db"
    port: int = by_name("qms").port
    # /qms/v1 is deprecated in favour of /qms/v2 since this instant and answers 410 from the
    # sunset on (RFC 3339, e.g. QMS_V1_SUNSET=2027-06-30T00:00:00Z).
    v1_deprecated_since: datetime = datetime.fromisoformat("2026-11-23T00:00:00+00:00")
    v1_sunset: datetime | None = datetime.fromisoformat("2027-06-30T00:00:00+00:00")
    # Documents suppliers attach to their answers (8D reports, photos): stored on disk under this
    # folder (a volume in containers), each at most this many bytes, of these media types.
    documents_dir: str = "data/documents/qms"
    document_max_bytes: int = 10_485_760
    document_types: str = "application/pdf,image/png,image/jpeg,text/plain"
