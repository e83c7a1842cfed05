"""Documents a service keeps (contracts/kit/documents.py): what is known of one."""

from __future__ import annotations

from datetime import datetime

from contracts.kit.wire import Output


class Document(Output, kw_only=True):
    document_id: str
    name: str
    content_type: str
    size: int  # bytes
    sha256: str  # hex digest of the content, also its ETag
    uploaded_by: str  # "SUP-ACME (portal-acme) via supplier-portal"
    uploader: str  # who that is, as a key: supplier:SUP-ACME, person:P-1042 or client:<id>
    created_at: datetime
