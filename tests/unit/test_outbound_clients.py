"""contracts/clients/outbound.py: a service's set of clients closes every client it holds."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.clients.base import ApiClient
from contracts.clients.outbound import Clients


class Transport:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Peer(ApiClient):
    service = "peer"


@dataclass(frozen=True)
class Upstreams(Clients):
    first: Peer
    rules: str
    second: Peer


async def test_aclose_closes_every_client_field_and_leaves_the_rest() -> None:
    transports = [Transport(), Transport()]
    first, second = (Peer("http://127.0.0.1:1", transport=t) for t in transports)  # type: ignore[arg-type]
    await Upstreams(first=first, rules="kept as is", second=second).aclose()
    assert [t.closed for t in transports] == [True, True]
