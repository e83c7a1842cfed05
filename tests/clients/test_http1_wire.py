"""The typed clients over the kernel's HTTP/1.1 pool against a scripted server on loopback: what
goes on the wire, a connection the server drops, a server that does not answer, keep-alive and
TLS. Retries, the breaker and problem decoding are in test_api_client.py (no sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contracts.clients.base import Answer, ApiClient, UpstreamUnavailable
from contracts.clients.testing import MockTransport
from contracts.kit import correlation


class Thing(msgspec.Struct):
    name: str


class Things(ApiClient):
    service = "things"


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted answer (raw bytes, or None: close at once)."""

    answers: list[bytes | None] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
                method, target, _ = request_line.split(" ")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.seen.append(Seen(method, target, headers, body))
                answer = self.answers.pop(0) if self.answers else json_answer(200, b'{"name": "default"}')
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def json_answer(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def serve(server: ScriptedServer, ssl_context: ssl.SSLContext | None = None) -> asyncio.Server:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=ssl_context)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    return listener


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer()
    listener = await serve(server)
    yield server
    listener.close()
    await listener.wait_closed()


def client(server: ScriptedServer, **options: object) -> Things:
    return Things(server.url, backoff=0.001, **options)  # type: ignore[arg-type]


async def test_a_request_reaches_the_wire_as_the_client_built_it(upstream: ScriptedServer) -> None:
    """What the client hands its transport (see test_api_client.py) is what the server reads:
    the same method, target, headers and body, framed with host and content-length."""
    upstream.answers = [json_answer(201, b'{"name": "made"}')]
    scripted = MockTransport(lambda request: Answer(201, [], b'{"name": "made"}'))

    async def token() -> str:
        return "tok-1"

    async def post(things: Things) -> Thing:
        with correlation.bound("corr-77", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"):
            made = await things.post(
                "/v1/things", Thing("x y"), Thing, idempotency_key="flow-1:step", if_match='"3"'
            )
        await things.aclose()
        return made

    assert await post(client(upstream, token=token)) == Thing("made")
    assert await post(Things(upstream.url, token=token, transport=scripted)) == Thing("made")
    [on_the_wire], [handed_over] = upstream.seen, scripted.requests
    assert (on_the_wire.method, on_the_wire.target) == (handed_over.method, handed_over.target)
    assert on_the_wire.body == handed_over.body
    framing = {"host": upstream.url.removeprefix("http://"), "content-length": str(len(handed_over.body))}
    wire, handed = dict(on_the_wire.headers), dict(handed_over.headers)
    # Each call is a span of its own: the trace is the same, the parent span id is not.
    assert wire.pop("traceparent").split("-")[1] == handed.pop("traceparent").split("-")[1] == "a" * 32
    assert wire == {**handed, **framing}


async def test_a_base_url_path_prefixes_every_target(upstream: ScriptedServer) -> None:
    things = Things(upstream.url + "/behind/proxy/")
    await things.get("/v1/things/1", Thing)
    await things.aclose()
    assert upstream.seen[0].target == "/behind/proxy/v1/things/1"


async def test_unavailable_answers_and_dropped_connections_are_retried(upstream: ScriptedServer) -> None:
    upstream.answers = [json_answer(503, b"{}"), None, json_answer(200, b'{"name": "third time"}')]
    things = client(upstream, attempts=3)
    assert await things.post("/v1/things", Thing("t"), Thing, idempotency_key="k") == Thing("third time")
    await things.aclose()
    assert [s.headers["idempotency-key"] for s in upstream.seen] == ["k", "k", "k"]


async def test_a_slow_upstream_times_out_as_unavailable() -> None:
    answered = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await answered.wait()
        writer.close()
        await writer.wait_closed()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    things = Things(f"http://127.0.0.1:{port}", timeout=0.2, attempts=1)
    with pytest.raises(UpstreamUnavailable, match="timed out"):
        await things.get("/v1/things/1", Thing)
    answered.set()
    await things.aclose()
    listener.close()
    await listener.wait_closed()


async def test_connections_are_kept_alive_between_calls(upstream: ScriptedServer) -> None:
    things = client(upstream)
    for _ in range(5):
        await things.get("/v1/things/1", Thing)
    await things.aclose()
    assert upstream.connections == 1


async def test_https_upstreams_are_verified_against_the_trusted_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server = ScriptedServer()
    listener = await serve(server, server_side)

    trusting = ssl.create_default_context(cafile=str(cert))
    things = Things(server.url, ssl_context=trusting)
    assert await things.get("/v1/things/1", Thing) == Thing("default")
    await things.aclose()

    untrusting = Things(server.url, attempts=1)  # the system's CAs do not know this certificate
    with pytest.raises(UpstreamUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusting.get("/v1/things/1", Thing)
    await untrusting.aclose()

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # how docs/operating.md has a plant trust its own CA
    plant_ca = Things(server.url, attempts=1)
    assert await plant_ca.get("/v1/things/1", Thing) == Thing("default")
    await plant_ca.aclose()
    listener.close()
    await listener.wait_closed()


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(loopback, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
