"""Typed client of QMS's documents (QMS v2, contracts/kit/documents.py)."""

from __future__ import annotations

from contracts.clients.base import ApiClient, segment
from contracts.kit.wire.documents import Document

API = "/qms/v2"


class QmsDocumentsClient(ApiClient):
    service = "qms"

    async def upload_document(self, name: str, content: bytes, content_type: str) -> Document:
        return await self.upload(f"{API}/documents", content, content_type, Document, {"name": name})

    async def get_document(self, document_id: str) -> Document:
        return await self.get(f"{API}/documents/{segment(document_id)}", Document)
