"""Documents in QMS (the app in process over real SQLite/PostgreSQL and Redis, files in a real
folder): an upload is streamed to disk with its SHA-256, limited in size and type, never stored in a
database row, read back byte for byte with its digest; an 8D answer names its attachments."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.db import rows
from tests.support.fixtures import BACKENDS, DatabaseUrl, Serve
from tests.support.http import client

PDF = b"%PDF-1.7\n" + b"8D report body " * 5000 + b"\n%%EOF\n"
LIMIT = 100_000


@dataclass
class Qms:
    http: httpx.Client
    folder: Path
    database_url: str


@pytest.fixture(scope="module", params=BACKENDS)
def qms(
    request: pytest.FixtureRequest,
    in_process: Serve,
    database_url: DatabaseUrl,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Qms]:
    folder = tmp_path_factory.mktemp(f"documents_{request.param}")
    url = database_url(request.param, f"qms_documents_{request.param}")
    service = in_process("qms", database_url=url, documents_dir=str(folder), document_max_bytes=LIMIT)
    with client(service, scopes=["qms:read", "qms:write"], claims={"supplier_id": "SUP-DOC"}) as http:
        yield Qms(http, folder, url)
    service.stop()


def upload(
    qms: Qms, body: bytes, content_type: str = "application/pdf", name: str = "8D-2311.pdf"
) -> httpx.Response:
    return qms.http.post(
        "/qms/v2/documents", params={"name": name}, content=body, headers={"Content-Type": content_type}
    )


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_an_upload_is_kept_on_disk_by_its_digest_and_read_back_byte_for_byte(qms: Qms) -> None:
    name = f"8D ré-{uuid.uuid4().hex[:6]}.pdf"
    stored = upload(qms, PDF, name=name)
    assert stored.status_code == 201, stored.text
    document = stored.json()
    digest = hashlib.sha256(PDF).hexdigest()
    assert (document["size"], document["sha256"], document["content_type"]) == (
        len(PDF),
        digest,
        "application/pdf",
    )
    assert document["uploader"] == "supplier:SUP-DOC"
    assert (qms.folder / digest[:2] / digest).read_bytes() == PDF
    meta = qms.http.get(f"/qms/v2/documents/{document['document_id']}").json()
    assert meta["name"] == name
    content = qms.http.get(f"/qms/v2/documents/{document['document_id']}/content")
    assert content.status_code == 200
    assert content.content == PDF
    assert content.headers["content-type"] == "application/pdf"
    assert content.headers["etag"] == f'"{digest}"'
    assert content.headers["repr-digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:"
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"].startswith("attachment;")
    # The bytes are nowhere in the database: the row holds what is known of them.
    stored_rows = asyncio.run(
        rows(qms.database_url, "SELECT * FROM kit_documents WHERE id = :id", id=document["document_id"])
    )
    assert len(stored_rows) == 1
    assert all(len(str(value)) < 500 for value in stored_rows[0])


def test_limits_refuse_and_leave_nothing_behind(qms: Qms) -> None:
    before = files(qms.folder)
    too_big = upload(qms, b"%PDF-" + b"x" * LIMIT)
    assert (too_big.status_code, too_big.json()["type"].rsplit(":", 1)[-1]) in (
        (413, "document-too-large"),
        (413, "payload-too-large"),
    )
    not_accepted = upload(qms, b"MZ\x90\x00 a program", content_type="application/x-msdownload")
    assert (not_accepted.status_code, not_accepted.json()["type"].rsplit(":", 1)[-1]) == (
        415,
        "document-type-not-accepted",
    )
    disguised = upload(qms, b"MZ\x90\x00 not a pdf at all")
    assert (disguised.status_code, disguised.json()["type"].rsplit(":", 1)[-1]) == (
        415,
        "document-type-not-accepted",
    )
    assert upload(qms, b"").status_code == 400
    assert (
        qms.http.post(
            "/qms/v2/documents", content=PDF, headers={"Content-Type": "application/pdf"}
        ).status_code
        == 400
    )
    assert upload(qms, PDF, name="../../etc/passwd").status_code == 400
    assert files(qms.folder) == before  # no half-written or refused file stays


def test_an_8d_answer_with_all_eight_disciplines_and_its_attachments(qms: Qms) -> None:
    report = upload(qms, PDF).json()["document_id"]
    photo = upload(
        qms, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png", name="burr.png"
    ).json()["document_id"]
    case = qms.http.post("/qms/v1/supplier-cases", json={"supplier_id": "SUP-DOC", "title": "Burrs"}).json()
    assert qms.http.post(f"/qms/v1/supplier-cases/{case['case_id']}/issue", json={}).status_code == 200
    eight_d = {
        "team": "J. Doe (quality), R. Roe (production)",
        "problem_description": "Burrs on flange edge, 12 of 500",
        "containment": "Sorted all stock at our site and in transit",
        "root_cause": "Worn deburring tool on line 3",
        "corrective_action": "Tool-life counter with forced change every 5000 parts",
        "implementation": "Counter live since 2030-04-02; 3 lots checked, 0 burrs",
        "preventive_action": "Same counter on lines 1, 2 and 4; FMEA updated",
        "closure": "Team thanked; case closed at supplier",
    }
    missing = qms.http.post(
        f"/qms/v1/supplier-cases/{case['case_id']}/response", json={**eight_d, "attachments": ["DOC-NOSUCH"]}
    )
    assert (missing.status_code, missing.json()["document_ids"]) == (422, ["DOC-NOSUCH"])
    answered = qms.http.post(
        f"/qms/v2/supplier-cases/{case['case_id']}/response", json={**eight_d, "attachments": [report, photo]}
    )
    assert answered.status_code == 200, answered.text
    response = answered.json()["responses"][-1]
    assert {k: response[k] for k in eight_d} == eight_d
    assert response["attachments"] == [report, photo]
