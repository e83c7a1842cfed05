"""What the typed clients do around each call, through an in-memory transport (no sockets): the
headers they send, retries, the circuit breaker, timeouts and problem decoding. What the wire
does (framing, keep-alive, TLS) is in test_http1_wire.py, against a real server."""

from __future__ import annotations

from urllib.parse import unquote

import msgspec
import pytest

from contracts.clients.base import Answer, ApiClient, UpstreamProblem, UpstreamUnavailable
from contracts.clients.qms import QmsClient
from contracts.clients.testing import MockTransport, Request, json_answer
from contracts.kit import correlation, http1
from contracts.kit.breaker import CircuitBreaker

NOT_FOUND = {"type": "urn:plantbridge:problem:not-found", "title": "Not found", "status": 404}


class Thing(msgspec.Struct):
    name: str


class Things(ApiClient):
    service = "things"


def scripted(*outcomes: Answer | Exception) -> MockTransport:
    """Answers (or raises) the given outcomes in order, then 200 {"name": "default"}."""
    queue = list(outcomes)

    def answer(request: Request) -> Answer:
        outcome = queue.pop(0) if queue else json_answer(200, {"name": "default"})
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return MockTransport(answer)


def things(transport: MockTransport, **options: object) -> Things:
    return Things("http://things.invalid", transport=transport, backoff=0.001, **options)  # type: ignore[arg-type]


async def test_a_post_carries_json_idempotency_key_correlation_and_token() -> None:
    transport = scripted(json_answer(201, {"name": "made"}))

    async def token() -> str:
        return "tok-1"

    client = things(transport, token=token)
    with correlation.bound("corr-77", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"):
        made = await client.post(
            "/v1/things", Thing("x y"), Thing, idempotency_key="flow-1:step", if_match='"3"'
        )
    await client.aclose()
    assert made == Thing("made")
    [request] = transport.requests
    assert (request.method, request.target) == ("POST", "/v1/things")
    assert request.json() == {"name": "x y"}
    assert request.headers["idempotency-key"] == "flow-1:step"
    assert request.headers["if-match"] == '"3"'
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer tok-1"
    assert request.headers["x-correlation-id"] == "corr-77"
    assert request.headers["traceparent"].split("-")[1] == "a" * 32
    assert transport.closed


async def test_paths_are_escaped_and_queries_encoded_as_the_apis_parse_them() -> None:
    transport = scripted()
    client = things(transport)
    await client.get("/v1/things/LOT 7", Thing, {"open": True, "limit": 5, "skip": None, "q": "a&b"})
    assert transport.requests[0].target == "/v1/things/LOT%207?open=true&limit=5&q=a%26b"


@pytest.mark.parametrize("hostile", ["IL-X/../IL-1", "IL-1%2F..", "IL-1?limit=1", "IL-1#x", "IL 1/"])
async def test_an_id_is_one_path_segment_whatever_it_holds(hostile: str) -> None:
    """A typed client puts an id into its path escaped whole: a caller passing an id it never
    checked (a partner's payload, another system's number) cannot address another record."""
    transport = scripted(json_answer(200, {}))
    qms = QmsClient("http://qms.invalid", transport=transport, backoff=0)
    with pytest.raises(msgspec.ValidationError):  # the scripted answer is no inspection lot
        await qms.get_inspection_lot(hostile)
    [request] = transport.requests
    path = request.target.removeprefix("/qms/v1/inspection-lots/")
    assert not {"/", "?", "#"} & set(path)
    assert unquote(path) == hostile


async def test_get_all_follows_the_cursor_to_the_last_page() -> None:
    pages = {
        "/v1/things?limit=2": {"items": [{"name": "a"}, {"name": "b"}], "next_cursor": "c2"},
        "/v1/things?limit=2&cursor=c2": {"items": [{"name": "c"}], "next_cursor": None},
    }
    transport = MockTransport(lambda request: json_answer(200, pages[request.target]))
    found = await things(transport).get_all("/v1/things", Thing, {"limit": 2, "status": None})
    assert [t.name for t in found] == ["a", "b", "c"]
    assert len(transport.requests) == 2


async def test_a_problem_answer_is_raised_with_the_rfc9457_document_and_not_retried() -> None:
    transport = scripted(json_answer(404, NOT_FOUND, "application/problem+json"))
    with pytest.raises(UpstreamProblem) as raised:
        await things(transport).get("/v1/things/none", Thing)
    assert (raised.value.service, raised.value.status, raised.value.slug) == ("things", 404, "not-found")
    assert raised.value.problem["title"] == "Not found"
    assert len(transport.requests) == 1


async def test_unavailable_answers_and_broken_connections_are_retried_with_the_same_key() -> None:
    transport = scripted(
        json_answer(503, {}),
        http1.Unavailable("upstream closed the connection"),
        json_answer(200, {"name": "third"}),
    )
    client = things(transport, attempts=3)
    assert await client.post("/v1/things", Thing("t"), Thing, idempotency_key="k") == Thing("third")
    assert [r.headers["idempotency-key"] for r in transport.requests] == ["k", "k", "k"]


async def test_a_rate_limit_that_outlasts_the_attempts_surfaces_as_that_problem() -> None:
    limited = json_answer(429, {"type": "urn:plantbridge:problem:rate-limited", "status": 429})
    transport = scripted(limited, limited)
    with pytest.raises(UpstreamProblem) as raised:
        await things(transport, attempts=2).get("/v1/things/1", Thing)
    assert (raised.value.status, raised.value.slug) == (429, "rate-limited")
    assert len(transport.requests) == 2


async def test_a_non_json_error_body_still_becomes_a_problem() -> None:
    bad_gateway = Answer(502, [(b"content-type", b"text/html")], b"<html>bad gateway</html>")
    transport = scripted(bad_gateway, bad_gateway)
    with pytest.raises(UpstreamUnavailable, match="502") as raised:
        await things(transport, attempts=2).get("/v1/things/1", Thing)
    cause = raised.value.__cause__
    assert isinstance(cause, UpstreamProblem)
    assert cause.problem == {"detail": "<html>bad gateway</html>"}


async def test_an_unreachable_upstream_opens_the_circuit_and_calls_stop() -> None:
    transport = scripted(*[http1.Unavailable("cannot connect to things.invalid:80")] * 2)
    breaker = CircuitBreaker("things", threshold=2, cooldown=60)
    client = things(transport, attempts=2, breaker=breaker)
    with pytest.raises(UpstreamUnavailable, match="cannot connect"):
        await client.get("/v1/things/1", Thing)
    with pytest.raises(UpstreamUnavailable, match="not calling it"):
        await client.get("/v1/things/1", Thing)
    assert len(transport.requests) == 2  # the open circuit sent nothing


async def test_a_success_closes_the_circuit_again() -> None:
    clock = [0.0]
    breaker = CircuitBreaker("things", threshold=1, cooldown=10, clock=lambda: clock[0])
    transport = scripted(http1.Unavailable("refused"), json_answer(200, {"name": "back"}))
    client = things(transport, attempts=1, breaker=breaker)
    with pytest.raises(UpstreamUnavailable):
        await client.get("/v1/things/1", Thing)
    clock[0] = 11.0  # past the cooldown: one trial call goes out, succeeds, closes the circuit
    assert await client.get("/v1/things/1", Thing) == Thing("back")
    assert (breaker.opened_at, breaker.failures) == (None, 0)


async def test_an_upstream_that_does_not_answer_in_time_is_unavailable() -> None:
    transport = scripted(TimeoutError(), TimeoutError())
    with pytest.raises(UpstreamUnavailable, match="timed out"):
        await things(transport, attempts=2).get("/v1/things/1", Thing)
    assert len(transport.requests) == 2


async def test_an_awaitable_handler_answers_too() -> None:
    async def later(request: Request) -> Answer:
        return json_answer(200, {"name": request.target.rsplit("/", 1)[-1]})

    assert await things(MockTransport(later)).get("/v1/things/x", Thing) == Thing("x")
