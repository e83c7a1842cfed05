"""The embedded platform: a real Redis, every service as its own process, SQLite files.

The gateway is the token issuer, as in production: before anything starts, the launcher
registers each calling service's OAuth2 client (and an operator client for people and the demo)
in the gateway's database, with secrets generated once and kept in `<data>/clients.json`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from contracts.kit.observability import RESTARTS_VARIABLE
from contracts.topology import SERVICES, Service, by_name
from plantbridge.processes import ChildProcess, RedisServer, ServiceProcess
from plantbridge.shopfloor_demo import ShopfloorDemo, load_shopfloor_demo
from plantbridge.supervisor import STATE_FILE, Supervisor
from plantbridge.tryton import TrytonServer

OPERATOR_CLIENT = "plantbridge-operator"
# The operator may read and write every system and process API, work the dead letters and
# see the gateway reports.
OPERATOR_SCOPES = (
    # Only scopes some API checks: webhooks and the shop floor take no `:write`.
    *(
        scope
        for s in SERVICES
        if s.layer in ("system", "process", "connector")
        for scope in (f"{s.name}:read", f"{s.name}:write")
        if scope in s.checked_scopes
    ),
    "events:read",
    "events:replay",
    "gateway:read",  # who still calls deprecated API versions
    "operations:read",  # the business monitors and the operations console
    "webhooks:read",  # every partner subscription, message and attempt
    "webhooks:operate",  # retry, replay, disable and enable deliveries
)


def service_env(
    service: Service, data_dir: Path, redis_url: str, counters_url: str = "", port_offset: int = 0
) -> dict[str, str]:
    """A service's settings on this machine: its own SQLite file (experience APIs keep only
    Idempotency-Key answers in it), the shared Redis, and every other service's URL."""
    prefix = service.env_prefix
    issuer = f"http://127.0.0.1:{by_name('gateway').port + port_offset}"
    urls = {s.name: f"http://127.0.0.1:{s.port + port_offset}" for s in SERVICES if s.name != "gateway"}
    env = {
        f"{prefix}_REDIS_URL": redis_url,
        f"{prefix}_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir.resolve()}/{service.name}.db",
        f"{prefix}_AUTH_ISSUER": issuer,
        f"{prefix}_AUTH_JWKS_URL": f"{issuer}/.well-known/jwks.json",
        f"{prefix}_AUTH_TOKEN_URL": f"{issuer}/oauth2/token",
        # Read by the services that call others (QUALITY_ERP_URL, ...); the rest ignore them.
        **{f"{prefix}_{name.upper()}_URL": url for name, url in urls.items() if name != service.name},
        RESTARTS_VARIABLE: "0",
    }
    if service.name == "gateway":
        env |= {"GATEWAY_ISSUER": issuer, "GATEWAY_UPSTREAMS": ",".join(f"{n}={u}" for n, u in urls.items())}
        if counters_url:
            env["GATEWAY_RATE_LIMIT_REDIS_URL"] = counters_url
    if service.name == "operations":
        env["OPERATIONS_SUPERVISOR_STATE_FILE"] = str(data_dir.resolve() / STATE_FILE)
    return env


def client_secrets(data_dir: Path) -> dict[str, str]:
    """A secret per platform client, made on the first start and reused after (file mode 0600)."""
    path = data_dir / "clients.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = [s.client_id for s in SERVICES if s.client_id] + [OPERATOR_CLIENT]
    if any(client not in known for client in wanted):
        known = {client: known.get(client) or secrets.token_urlsafe(32) for client in wanted}
        path.touch(mode=0o600)
        path.write_text(json.dumps(known, indent=2))
    return known


def register_client(
    gateway_env: dict[str, str], client_id: str, scopes: Sequence[str], secret: str, *, replace: bool = False
) -> dict[str, str]:
    """Through the gateway's own command line, as an administrator would; returns its answer."""
    command = ["gateway", "register-client", client_id, "--scopes", " ".join(scopes)]
    command.append(f"--secret={secret}")  # "=": a secret may start with "-"
    result = subprocess.run(
        [sys.executable, "-m", "plantbridge", *command, *(["--replace"] if replace else [])],
        env={**os.environ, **gateway_env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"registering {client_id} at the gateway failed: {result.stderr.strip()}")
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


def register_clients(gateway_env: dict[str, str], known: dict[str, str]) -> None:
    scopes = {s.client_id: s.client_scopes for s in SERVICES if s.client_id}
    scopes[OPERATOR_CLIENT] = OPERATOR_SCOPES
    for client_id, secret in known.items():
        if client_id in scopes:
            register_client(gateway_env, client_id, scopes[client_id], secret, replace=True)


# The demo plant's locations, each with Tryton locations for its three stock statuses.
TRYTON_LOCATIONS = json.dumps(
    {
        place: {"unrestricted": place, "quality_inspection": f"{place}-QI", "blocked": f"{place}-BLK"}
        for place in ("WH1-A-01", "WH1-B-07", "FG")
    }
)


def start_tryton(data_dir: Path) -> tuple[TrytonServer, dict[str, str]]:
    """A local trytond with the demo plant's locations; returns it and the ERP's settings."""
    from plantbridge import tryton

    tryton.ensure_installed()
    server = tryton.TrytonServer(data_dir / "tryton", database="plant")
    if not server.file.exists():
        print("tryton       initialising its database once (about 90 s) ...", flush=True)
    server.initialise()
    server.start()
    server.prepare(TRYTON_LOCATIONS)
    print(
        f"tryton       {server.url}  database {server.database}, user admin, password "
        f"{tryton.ADMIN_PASSWORD}  (JSON-RPC at {server.url}/{server.database}/rpc/; log {server.log_path})",
        flush=True,
    )
    return server, server.erp_env(TRYTON_LOCATIONS)


def run_platform(
    data: str,
    *,
    demo: bool,
    only: list[str],
    redis_port: int,
    erp: str = "embedded",
    shopfloor: bool = False,
    mqtt_port: int = 1883,
    port_offset: int = 0,
) -> int:
    data_dir = Path(data)
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _log_supervision(logs / "supervisor.log")
    chosen = [s for s in SERVICES if not only or s.name in only]
    redis = RedisServer(data_dir / "redis", port=redis_port)
    # The gateway's rate-limit counters need no fsync per write (the event streams do): a Redis
    # of their own, in memory only.
    counters = RedisServer(data_dir / "redis-counters", durable=False, name="redis-counters")
    machines = ShopfloorDemo(data_dir, mqtt_port) if shopfloor else None
    processes: list[ServiceProcess] = []
    tryton: TrytonServer | None = None
    stop = threading.Event()
    # Children run in process groups of their own: these reach only this process, which stops
    # them in order (a terminal's Ctrl-C and hang-up included).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    supervisor: Supervisor | None = None
    try:
        redis.start()
        print(f"redis        {redis.url}  (append-only files in {redis.data_dir})", flush=True)
        counters.start()
        print(f"redis        {counters.url}  (the gateway's rate-limit counters, memory only)", flush=True)
        erp_env: dict[str, str] = {}
        if erp == "tryton":
            tryton, erp_env = start_tryton(data_dir)
        known = client_secrets(data_dir)
        register_clients(service_env(by_name("gateway"), data_dir, redis.url, port_offset=port_offset), known)
        shopfloor_env = machines.start_broker() if machines else {}
        if machines:
            print(f"mqtt         {machines.broker.url}  (amqtt; machine map {machines.map_file})", flush=True)
        for service in chosen:
            env = service_env(service, data_dir, redis.url, counters.url, port_offset)
            if service.name == "erp":
                env.update(erp_env)
            if service.name == "shopfloor":
                env.update(shopfloor_env)
            if service.client_id:
                env[f"{service.env_prefix}_CLIENT_ID"] = service.client_id
                env[f"{service.env_prefix}_CLIENT_SECRET"] = known[service.client_id]
            log_path = logs / f"{service.name}.log"
            process = ServiceProcess(service.name, env, port=service.port + port_offset, log_path=log_path)
            processes.append(process)
            process.start(timeout=60)
            print(f"{service.name:<12} {process.url}  (log {process.log_path})", flush=True)
        gateway = next((p for p in processes if p.name == "gateway"), None)
        if demo and gateway is not None:
            from plantbridge.demo import load_demo

            load_demo(gateway.url, OPERATOR_CLIENT, known[OPERATOR_CLIENT])
            if machines:
                load_shopfloor_demo(gateway.url, OPERATOR_CLIENT, known[OPERATOR_CLIENT], machines.options)
        if machines:
            machines.start_machine(logs / "machines.log")
            print(f"machines     1 simulated CNC over Sparkplug B  (log {logs / 'machines.log'})", flush=True)
        children: list[tuple[ChildProcess, str | None]] = [(redis, redis.url), (counters, counters.url)]
        children += [(tryton, tryton.url)] if tryton is not None else []
        children += [(p, p.url) for p in processes]
        children += [(machines.broker, machines.broker.url), (machines.machines, None)] if machines else []
        supervisor = Supervisor(children, data_dir / STATE_FILE)
        # The state file is there before "is up": `plantbridge status` right after it must answer.
        supervisor.write()
        print(
            f"Plantbridge is up. Operator client: {OPERATOR_CLIENT}, secret in {data_dir / 'clients.json'}."
            " A process that dies is restarted (`plantbridge status`); Ctrl-C stops everything.",
            flush=True,
        )
        supervisor.watch(stop)
        return 0
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        print(f"platform failed to start: {exc}", file=sys.stderr)
        return 1
    finally:
        for process in reversed(processes):
            process.stop()
        if machines:
            machines.stop()
        if tryton is not None:
            tryton.stop()
        counters.stop()
        redis.stop()
        if supervisor is not None:
            supervisor.stopped()
        print("stopped.", flush=True)


def _log_supervision(path: Path) -> None:
    """Restarts and crash loops go to the terminal and to a file that outlives it."""
    logger = logging.getLogger("plantbridge.supervisor")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    form = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(path)):
        handler.setFormatter(form)
        logger.addHandler(handler)
