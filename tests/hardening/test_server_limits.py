"""Server limits over real HTTP on loopback, against a service process (uvicorn) and the gateway
process (granian): huge headers, slow headers, a silent connection, a trickled body, two hundred
trickled bodies, and the per-client cap. Timeouts are set short here (2 s) so the tests run
quickly; the defaults are in ServiceSettings and docs/security.md.

Clients come from several loopback addresses (127.0.0.x all reach a server on 127.0.0.1 on Linux),
so one test's "other client" is really another client to the server."""

from __future__ import annotations

import itertools
import json
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from plantbridge.processes import ServiceProcess
from tests.support.fixtures import Launch
from tests.support.tokens import mint_token

TIMEOUT = 2.0  # header and body deadlines of the servers under test, seconds
CAP = 20  # requests in progress per client address
LIMITS = {
    "http_header_timeout_seconds": str(TIMEOUT),
    "http_body_timeout_seconds": str(TIMEOUT),
    "http_max_connections_per_client": str(CAP),
}
TOKEN = mint_token(["erp:read", "erp:write"])
_addresses = (f"127.0.0.{n}" for n in itertools.count(10))  # a fresh client address per use


@pytest.fixture(scope="module", params=["service", "gateway"])
def server(request: pytest.FixtureRequest, launch: Launch, database_url) -> Iterator[ServiceProcess]:
    erp = launch("erp", database_url=database_url("sqlite", "hardening_limits_erp"), **LIMITS)
    if request.param == "service":
        yield erp
    else:
        yield launch(
            "gateway",
            database_url=database_url("sqlite", "hardening_limits_gw"),
            upstreams=f"erp={erp.url}",
            **LIMITS,
        )


def connect(server: ServiceProcess, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout, source_address=(source, 0))
    return sock


def status_of(sock: socket.socket) -> int:
    """The status of the answer on `sock`, or 0 when the server hung up without one."""
    head = b""
    try:
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (reading whatever it answered), None if it did not."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if not sock.recv(4096):
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


def get(server: ServiceProcess, path: str, source: str = "127.0.0.1", **headers: str) -> int:
    lines = "".join(
        f"{k}: {v}\r\n" for k, v in {"Host": "x", "Authorization": f"Bearer {TOKEN}", **headers}.items()
    )
    with connect(server, source) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\n{lines}\r\n".encode())
        return status_of(sock)


def start_post(server: ServiceProcess, source: str, first: bytes = b"{", length: int = 200) -> socket.socket:
    """A POST whose headers arrive at once and whose body has only begun."""
    sock = connect(server, source)
    head = (
        f"POST /erp/v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def test_headers_over_the_limit_are_refused_431(server: ServiceProcess) -> None:
    assert get(server, "/erp/v1/items?limit=1", **{"X-Pad": "a" * 12_000}) == 200
    assert get(server, "/health/live", **{"X-Pad": "a" * 20_000}) == 431  # default limit 16 KiB
    assert get(server, "/erp/v1/items", **{"X-Pad": "a" * 20_000}) == 431
    assert get(server, "/erp/v1/items", **{f"X-Pad-{n}": "a" * 100 for n in range(200)}) == 431


def test_headers_sent_slowly_are_cut_off(server: ServiceProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        cut_off = False
        while not cut_off and time.monotonic() - started < 3 * TIMEOUT:
            try:
                sock.sendall(b"X-A: b\r\n")  # a header line every half second, never the end
            except OSError:
                cut_off = True
                break
            # Waiting by reading sees the close as it happens; a send would only fail a send
            # or two later (the first one after the close just draws a reset).
            cut_off = closed_within(sock, 0.5) is not None
        assert cut_off
        assert time.monotonic() - started < 2 * TIMEOUT


def test_a_connection_that_sends_nothing_is_closed(server: ServiceProcess) -> None:
    with connect(server) as sock:
        waited = closed_within(sock, 3 * TIMEOUT)
    assert waited is not None
    assert waited < 2 * TIMEOUT


def test_a_body_sent_a_byte_every_five_seconds_is_cut_off_408(server: ServiceProcess) -> None:
    with start_post(server, next(_addresses)) as sock:
        started = time.monotonic()
        sock.settimeout(5.0)  # the next byte would come now; the answer must come first
        assert status_of(sock) == 408
        assert time.monotonic() - started < TIMEOUT + 1.5
        assert closed_within(sock, 2.0) is not None


def test_a_slow_but_steady_body_is_received(server: ServiceProcess) -> None:
    item = f"RM-{uuid.uuid4().hex[:8].upper()}"
    body = json.dumps({"item_id": item, "description": "Steel"}).encode().ljust(8_000)
    sock = start_post(server, next(_addresses), first=b"", length=len(body))
    with sock:
        for start in range(0, len(body), 800):  # 8 KB over 3 s: 2.7 KB/s, over the 1 KB/s minimum
            sock.sendall(body[start : start + 800])
            time.sleep(0.3)
        assert status_of(sock) == 201


def test_two_hundred_trickled_bodies_do_not_hold_the_server(server: ServiceProcess) -> None:
    sources = [next(_addresses) for _ in range(200 // CAP)]  # each client at its cap
    slow = [start_post(server, source) for source in sources for _ in range(CAP)]
    try:
        started = time.monotonic()
        assert get(server, "/erp/v1/items?limit=1") == 200  # everyone else is served meanwhile
        assert time.monotonic() - started < 1.0
        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(status_of, slow))
        assert statuses == [408] * 200
        assert time.monotonic() - started < TIMEOUT + 3.0
        with ThreadPoolExecutor(max_workers=50) as pool:
            assert all(t is not None for t in pool.map(lambda s: closed_within(s, 2.0), slow))
    finally:
        for sock in slow:
            sock.close()


def test_one_client_may_have_only_so_many_requests_in_progress(server: ServiceProcess) -> None:
    greedy, other = next(_addresses), next(_addresses)
    held = [start_post(server, greedy) for _ in range(CAP)]
    try:
        time.sleep(0.3)  # all of them in progress
        with connect(server, greedy) as sock:
            sock.sendall(
                f"GET /erp/v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
            )
            assert status_of(sock) == 429
        assert get(server, "/erp/v1/items?limit=1", source=other) == 200
        assert [status_of(s) for s in held] == [408] * CAP
        assert get(server, "/erp/v1/items?limit=1", source=greedy) == 200  # freed again
    finally:
        for sock in held:
            sock.close()


def test_x_forwarded_for_does_not_make_another_client(server: ServiceProcess) -> None:
    # From loopback, where uvicorn would believe it by default.
    held = [start_post(server, "127.0.0.1") for _ in range(CAP)]
    try:
        time.sleep(0.3)
        assert get(server, "/erp/v1/items?limit=1", **{"X-Forwarded-For": "10.1.2.3"}) == 429
        assert [status_of(s) for s in held] == [408] * CAP
    finally:
        for sock in held:
            sock.close()


def test_the_guards_answers_carry_the_correlation_id(server: ServiceProcess) -> None:
    """Refused before any route, and still traceable: the caller's id is echoed (a new one is made
    when it sent none or an unsafe one), on the gateway as on a service."""
    source = next(_addresses)
    with connect(server, source) as sock:
        sock.sendall(
            f"GET /erp/v1/items?x=%00 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "X-Correlation-ID: probe-42\r\n\r\n".encode()
        )
        head = sock.recv(65536).split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 422"), head
    assert b"\r\nx-correlation-id: probe-42" in head
    with connect(server, source) as sock:
        sock.sendall(
            f"GET /erp/v1/items?x=%0A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
        )
        head = sock.recv(65536).split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 422"), head
    assert head.count(b"\r\nx-correlation-id: ") == 1
