"""Several services wired together as the platform runs them: the gateway issues tokens, the
system APIs trust it, and process APIs get their own OAuth2 client registered at the gateway."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis import Redis

from contracts.events.envelope import CloudEvent, decode
from plantbridge.launcher import register_client
from plantbridge.processes import ServiceProcess, free_port
from plantbridge.services import by_name

Launch = Callable[..., ServiceProcess]
_REDIS_DATABASES = itertools.count()
DatabaseUrl = Callable[[str, str], str]


@dataclass
class Platform:
    launch: Launch
    database_url: DatabaseUrl
    backend: str
    tag: str
    redis_url: str
    gateway: ServiceProcess | None = None
    gateway_db: str = ""
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A Redis database per platform: one test module's streams and consumer groups never
        # reach another module's processes (database 0 is for single launches, 1 for contracts).
        self.redis_url = f"{self.redis_url.rsplit('/', 1)[0]}/{next(_REDIS_DATABASES) % 14 + 2}"

    @property
    def issuer(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def start_gateway(self, upstreams: dict[str, str] | None = None) -> ServiceProcess:
        """`upstreams`: where the gateway routes each service (when they start after it)."""
        port = free_port()
        self.gateway_db = self.database_url(self.backend, f"{self.tag}_gateway")
        url = f"http://127.0.0.1:{port}"
        self.gateway = self.launch(
            "gateway",
            database_url=self.gateway_db,
            port=port,
            issuer=url,
            redis_url=self.redis_url,
            upstreams=",".join(
                f"{n}={url}" for n, url in (upstreams or {n: p.url for n, p in self.services.items()}).items()
            ),
        )
        return self.gateway

    def trust(self, name: str) -> dict[str, str]:
        """Settings that make a service trust this platform's gateway (besides the test issuer)."""
        return {
            "auth_issuer": self.issuer,
            "auth_jwks_url": f"{self.issuer}/.well-known/jwks.json",
            "auth_token_url": f"{self.issuer}/oauth2/token",
        }

    def register_client(self, client_id: str, scopes: Sequence[str]) -> str:
        secret = secrets.token_urlsafe(24)
        answer = register_client({"GATEWAY_DATABASE_URL": self.gateway_db}, client_id, scopes, secret)
        assert answer["client_id"] == client_id
        return secret

    def own_client(self, name: str) -> dict[str, str]:
        """Register a calling service's OAuth2 client (id and scopes from the service table), as
        the launcher does; returns the settings that hand it to the service."""
        service = by_name(name)
        return {
            "client_id": service.client_id,
            "client_secret": self.register_client(service.client_id, service.client_scopes),
        }

    def start(self, name: str, **env: str) -> ServiceProcess:
        db = self.database_url(self.backend, f"{self.tag}_{name}") if by_name(name).uses_database else None
        if db:
            self.databases[name] = db
        process = self.launch(name, database_url=db, redis_url=self.redis_url, **self.trust(name), **env)
        self.services[name] = process
        return process

    def database_url_of(self, name: str) -> str:
        return self.databases[name]

    def events(self, stream: str) -> list[CloudEvent]:
        """Every event published on a stream so far, decoded."""
        redis = Redis.from_url(self.redis_url)
        try:
            return [decode(fields[b"event"]) for _id, fields in redis.xrange(stream)]
        finally:
            redis.close()

    def replay_event(self, stream: str, event_type: str, containing: str) -> bool:
        """Deliver a published event a second time, unchanged (same event id), as a replay would."""
        redis = Redis.from_url(self.redis_url)
        try:
            for _entry_id, fields in redis.xrange(stream):
                if fields.get(b"type") == event_type.encode() and containing.encode() in fields.get(
                    b"event", b""
                ):
                    redis.xadd(stream, fields)
                    return True
            return False
        finally:
            redis.close()

    def stop(self) -> None:
        for process in [*self.services.values(), *([self.gateway] if self.gateway else [])]:
            process.stop()
