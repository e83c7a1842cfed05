"""Documents a service keeps (an 8D report, a photo of a defect): on disk, never in a database row.

An upload is streamed from the request to a file in the service's documents folder while its
SHA-256 is computed, refused as soon as it passes the size limit (413) and refused when its
media type is not one the service accepts or its first bytes contradict it (415: a "PDF" that is
not one). The finished file is fsynced and renamed to its digest (identical content is kept
once), then a small metadata row (name, type, size, digest, who uploaded it) is written in the
request's transaction. Reading streams the file back with its digest (`ETag`, `Repr-Digest`),
`X-Content-Type-Options: nosniff` and as an attachment, so a browser never renders it in place.

A service opts in by migrating `documents_metadata` and mounting `document_routes(settings)`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import QueryParameter
from litestar.response import Stream
from litestar.types import ControllerRouterHandler
from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.kit.acting import Acting, acting
from contracts.kit.auth import current_principal
from contracts.kit.paging import as_utc
from contracts.kit.params import PathId
from contracts.kit.patterns import whole
from contracts.kit.problems import Problem
from contracts.kit.records import RecordMixin, new_id
from contracts.kit.repository import get_or_404
from contracts.kit.responses import problems
from contracts.kit.unit_of_work import Session
from contracts.kit.wire.documents import Document

documents_metadata = MetaData()
CHUNK = 64 * 1024
# What the first bytes of a file of these types look like; other accepted types are not sniffed.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def empty_document() -> Problem:
    """An upload without a byte: the sender's mistake (400), wherever it is noticed first."""
    return Problem("The document is empty.", status=400, slug="document-empty")


def file_operation(types: Iterable[str], *, takes: bool = False, gives: bool = False) -> type[Operation]:
    """The OpenAPI operation of an upload (`takes` the file as its body) or a download (`gives` it
    as its 200 answer), the file in one of `types`. Such handlers stream raw bytes, which Litestar
    cannot describe; this says what a client sends or gets."""
    file = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, min_length=1))
    content = dict.fromkeys(sorted(types), file)

    @dataclass
    class FileOperation(Operation):
        def __post_init__(self) -> None:
            if takes:
                self.request_body = RequestBody(
                    content=content,
                    description="The file itself, its Content-Type the file's type",
                    required=True,
                )
            answer = (self.responses or {}).get("200")
            if gives and isinstance(answer, OpenAPIResponse):
                answer.content, answer.description = content, "The file, in the type it was uploaded as"

    return FileOperation


FileName = Annotated[
    str,
    QueryParameter(
        min_length=1,
        max_length=200,
        pattern=whole(r"[^\x00-\x1f/\\\\\"]+"),
        description="The file's name as the uploader knows it (no path, no quotes)",
    ),
]


class _Documents(DeclarativeBase):
    metadata = documents_metadata


class DocumentRow(RecordMixin, _Documents):
    __tablename__ = "kit_documents"
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[str] = mapped_column(String(400))  # "SUP-ACME (portal-acme) via supplier-portal"
    uploader: Mapped[str] = mapped_column(String(250), index=True)  # "supplier:SUP-ACME" (acting.py)


class TooLarge(Problem):
    status, slug, title = 413, "document-too-large", "Document too large"


class NotAccepted(Problem):
    status, slug, title = 415, "document-type-not-accepted", "Document type not accepted"


@dataclass(frozen=True)
class DocumentSettings:
    folder: Path
    max_bytes: int
    types: frozenset[str]

    @classmethod
    def of(cls, folder: str, max_bytes: int, types: str) -> DocumentSettings:
        accepted = frozenset(t.strip().lower() for t in types.split(",") if t.strip())
        return cls(Path(folder), max_bytes, accepted)

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256


def view(row: DocumentRow) -> Document:
    return Document(
        document_id=row.id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_by=row.uploaded_by,
        uploader=row.uploader,
        created_at=as_utc(row.created_at),
    )


async def store(
    settings: DocumentSettings, chunks: AsyncIterator[bytes], name: str, content_type: str, who: Acting
) -> DocumentRow:
    """Stream `chunks` into the store; the row to record them (for the caller's transaction)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in settings.types:
        accepted = ", ".join(sorted(settings.types))
        raise NotAccepted(f"{media or 'no Content-Type'} is not accepted; send one of: {accepted}.")
    digest, size, head = hashlib.sha256(), 0, b""
    handle, temporary = await asyncio.to_thread(_new_file, settings.folder)
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > settings.max_bytes:
                    raise TooLarge(f"Documents are limited to {settings.max_bytes} bytes.")
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
            await asyncio.to_thread(_flush, out)
        if size == 0:
            raise empty_document()
        known = SIGNATURES.get(media)
        if known and not head.startswith(known):
            raise NotAccepted(f"The content is not {media} (its first bytes say otherwise).")
        sha256 = digest.hexdigest()
        await asyncio.to_thread(_keep, temporary, settings.path(sha256))
    except BaseException:
        await asyncio.to_thread(Path(temporary).unlink, missing_ok=True)
        raise
    return DocumentRow(
        id=new_id("DOC"),
        name=name,
        content_type=media,
        size=size,
        sha256=sha256,
        uploaded_by=who.describe(),
        uploader=who.key(),
    )


def _new_file(folder: Path) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=folder, prefix=".upload-")


def _keep(temporary: str, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, final)  # identical content lands on the same file


def _flush(out: Any) -> None:
    out.flush()
    os.fsync(out.fileno())


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            yield chunk


def _attachment(name: str) -> str:
    """RFC 6266: an ASCII name for old clients, the exact one (UTF-8, percent-encoded) for the rest."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def document_routes(
    settings: DocumentSettings, *, scopes: Sequence[str] | None = None
) -> list[ControllerRouterHandler]:
    """`POST /documents?name=` (the body is the file, its Content-Type its type), `GET
    /documents/{id}` (what is known of it) and `GET /documents/{id}/content` (the bytes)."""
    opt = {"scopes": tuple(scopes)} if scopes else {}

    @post(
        "/documents",
        tags=["documents"],
        opt=opt,
        request_max_body_size=settings.max_bytes,
        operation_class=file_operation(settings.types, takes=True),
        responses=problems(413, 415),
        summary="Upload a document (an 8D report, a photo)",
        description=f"The request body is the file, its Content-Type the file's type (accepted: "
        f"{', '.join(sorted(settings.types))}); at most {settings.max_bytes} bytes. Streamed to "
        "storage with its SHA-256; the answer names the document to link it (e.g. in a supplier "
        "response's `attachments`).",
    )
    async def upload(request: Request[Any, Any, Any], session: Session, name: FileName) -> Response[Document]:
        who = acting(current_principal(request))
        assert who is not None  # the route needs a token
        row = await store(settings, request.stream(), name, request.headers.get("content-type", ""), who)
        session.add(row)
        await session.flush()
        return Response(view(row), status_code=201, headers={"Location": f"{request.url.path}/{row.id}"})

    @get(
        "/documents/{document_id:str}",
        tags=["documents"],
        opt=opt,
        responses=problems(404),
        summary="A document's metadata",
    )
    async def metadata(session: Session, document_id: PathId) -> Document:
        return view(await get_or_404(session, DocumentRow, document_id, "document"))

    @get(
        "/documents/{document_id:str}/content",
        tags=["documents"],
        opt=opt,
        responses=problems(404),
        operation_class=file_operation(settings.types, gives=True),
        summary="A document's bytes, as an attachment",
        description="Streamed with the type it was uploaded as, its SHA-256 as ETag and Repr-Digest.",
    )
    async def content(session: Session, document_id: PathId) -> Stream:
        row = await get_or_404(session, DocumentRow, document_id, "document")
        path = settings.path(row.sha256)
        digest = base64.b64encode(bytes.fromhex(row.sha256)).decode()
        return Stream(
            _read(path),
            media_type=row.content_type,
            headers={
                "Content-Length": str(row.size),
                "ETag": f'"{row.sha256}"',
                "Repr-Digest": f"sha-256=:{digest}:",
                "Content-Disposition": _attachment(row.name),
                "X-Content-Type-Options": "nosniff",
            },
        )

    return [upload, metadata, content]


__all__ = [
    "DocumentRow",
    "DocumentSettings",
    "NotAccepted",
    "TooLarge",
    "document_routes",
    "documents_metadata",
    "store",
    "view",
]
