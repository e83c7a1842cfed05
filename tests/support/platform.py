"""Several services wired together as the platform runs them: the gateway issues tokens, the
system APIs trust it, and process APIs get their own OAuth2 client registered at the gateway."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis import Redis

from contracts.kit.envelope import CloudEvent, decode
from contracts.topology import SERVICES, by_name
from plantbridge.launcher import register_client
from plantbridge.processes import ServiceProcess, free_port

Launch = Callable[..., ServiceProcess]
_REDIS_DATABASES = itertools.count()
DatabaseUrl = Callable[[str, str], str]


def private_redis_url(redis_url: str) -> str:
    """A Redis database for one set of services working together, so that one test module's
    streams and consumer groups never reach another module's services (database 0 is for single
    services, 1 for the contract runs)."""
    return f"{redis_url.rsplit('/', 1)[0]}/{next(_REDIS_DATABASES) % 14 + 2}"


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
    edge: ServiceProcess | None = None  # a gateway replica routing to every service (start_all)
    databases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.redis_url = private_redis_url(self.redis_url)

    @property
    def issuer(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def start_gateway(
        self, database_url: str | None = None, upstreams: dict[str, str] | None = None
    ) -> ServiceProcess:
        """`upstreams`: where the gateway routes each service (when they start after it)."""
        port = free_port()
        self.gateway_db = database_url or self.database_url(self.backend, f"{self.tag}_gateway")
        url = f"http://127.0.0.1:{port}"
        self.gateway = self.launch(
            "gateway",
            database_url=self.gateway_db,
            port=port,
            issuer=url,
            redis_url=self.redis_url,
            upstreams=",".join(
                f"{n}={where}"
                for n, where in (upstreams or {n: p.url for n, p in self.services.items()}).items()
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

    def start(self, name: str, port: int | None = None, **env: str) -> ServiceProcess:
        db = self.database_url(self.backend, f"{self.tag}_{name}") if by_name(name).uses_database else None
        if db:
            self.databases[name] = db
        process = self.launch(
            name, database_url=db, port=port, redis_url=self.redis_url, **self.trust(name), **env
        )
        self.services[name] = process
        return process

    def start_all(self) -> ServiceProcess:
        """Every service of the platform's table behind this gateway, as `plantbridge up` runs
        them (each caller with its own client, told every other service's URL); returns a second
        gateway (the same keys and issuer) that routes to all of them, the address users call."""
        behind = [s for s in SERVICES if s.name != "gateway"]
        ports = {s.name: free_port() for s in behind}  # every URL is known before anything starts
        urls = {f"{name}_url": f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for service in behind:
            own = self.own_client(service.name) if service.client_id else {}
            if service.uses_database:
                self.start(service.name, port=ports[service.name], **own, **urls)
            else:  # experience APIs keep only their Idempotency-Key answers, in SQLite
                db = self.database_url("sqlite", f"{self.tag}_{service.name}")
                self.services[service.name] = self.launch(
                    service.name,
                    database_url=db,
                    port=ports[service.name],
                    redis_url=self.redis_url,
                    **own,
                    **urls,
                    **self.trust(service.name),
                )
        return self.start_edge()

    def start_edge(self, **settings: str) -> ServiceProcess:
        """A second gateway (the same database, keys and issuer) routing to every service
        started so far: the address users call."""
        self.edge = self.launch(
            "gateway",
            database_url=self.gateway_db,
            port=free_port(),
            issuer=self.issuer,
            redis_url=self.redis_url,
            upstreams=",".join(f"{n}={p.url}" for n, p in self.services.items()),
            **settings,
        )
        return self.edge

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
        gateways = [g for g in (self.edge, self.gateway) if g is not None]
        for process in [*gateways, *reversed(self.services.values())]:
            process.stop()
