"""`plantbridge` command line: run the platform, one service, migrations, demo data, events."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from connectors.shopfloor.simulator import cli as simulate_cli
from connectors.webhooks import cli as webhooks_cli
from gateway import cli as gateway_cli
from plantbridge import events_cli
from plantbridge.governance import cli as contracts_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plantbridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start every service on loopback (embedded default)")
    up.add_argument(
        "--data", default=os.environ.get("PLANTBRIDGE_DATA", "data"), help="folder for SQLite, Redis, logs"
    )
    up.add_argument("--demo", action="store_true", help="load a small demo plant once everything is up")
    up.add_argument("--only", default="", help="comma-separated service names (default: all)")
    up.add_argument("--redis-port", type=int, default=6380)
    up.add_argument(
        "--erp",
        choices=("embedded", "tryton"),
        default="embedded",
        help="the system of record behind the ERP API: its own tables, or a local Tryton server "
        "(installed from the `tryton` extra and initialised under --data on first use)",
    )
    up.add_argument(
        "--shopfloor",
        action="store_true",
        help="an MQTT broker (amqtt) and one simulated CNC for the connector",
    )
    up.add_argument("--mqtt-port", type=int, default=1883, help="the --shopfloor broker's port")
    up.add_argument(
        "--port-offset",
        type=int,
        default=0,
        help="add this to every service's port (e.g. 10000: the gateway on 10000, ERP on 18101)",
    )

    status = commands.add_parser("status", help="the processes `up` supervises: state, restarts, last exit")
    status.add_argument("--data", default=os.environ.get("PLANTBRIDGE_DATA", "data"))

    serve = commands.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)

    migrate = commands.add_parser("migrate", help="apply a service's migrations to its database")
    migrate.add_argument("service")

    commands.add_parser(
        "register-platform-clients",
        help="register the platform's own OAuth2 clients at the gateway, each with the secret in its "
        "<SERVICE>_CLIENT_SECRET variable (the compose bootstrap; `up` does this by itself)",
    )

    commands.add_parser(
        "tryton-prepare",
        help="prepare the Tryton database named by ERP_TRYTON_* for the ERP API: company, product "
        "categories, the locations of ERP_TRYTON_LOCATIONS (looks before it creates)",
    )

    demo = commands.add_parser("demo", help="load demo data into a running platform, through its gateway")
    demo.add_argument("--gateway", default="http://127.0.0.1:8000")
    demo.add_argument(
        "--data", default=os.environ.get("PLANTBRIDGE_DATA", "data"), help="where `up` keeps clients.json"
    )

    events_cli.add_parser(commands)
    gateway_cli.add_parser(commands)
    contracts_cli.add_parser(commands)
    webhooks_cli.add_parser(commands)
    simulate_cli.add_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "up":
        from plantbridge.launcher import run_platform

        return run_platform(
            args.data,
            demo=args.demo,
            only=[s for s in args.only.split(",") if s],
            redis_port=args.redis_port,
            erp=args.erp,
            shopfloor=args.shopfloor,
            mqtt_port=args.mqtt_port,
            port_offset=args.port_offset,
        )
    if args.command == "status":
        from plantbridge.supervisor import print_status

        return print_status(args.data)
    if args.command == "serve":
        return _serve(args.service, args.host, args.port)
    if args.command == "migrate":
        return _migrate(args.service)
    if args.command == "events":
        return events_cli.run(args)
    if args.command == "gateway":
        return gateway_cli.run(args)
    if args.command == "contracts":
        return contracts_cli.run(args)
    if args.command == "webhooks":
        return webhooks_cli.run(args)
    if args.command == "simulate":
        return simulate_cli.run(args)
    if args.command == "register-platform-clients":
        return _register_platform_clients()
    if args.command == "tryton-prepare":
        return _tryton_prepare()
    if args.command == "demo":
        import json
        from pathlib import Path

        from plantbridge.demo import load_demo
        from plantbridge.launcher import OPERATOR_CLIENT

        known = json.loads((Path(args.data) / "clients.json").read_text())
        load_demo(args.gateway, OPERATOR_CLIENT, known[OPERATOR_CLIENT])
        return 0
    return 2


def _serve(name: str, host: str, port: int | None) -> int:
    import uvicorn

    from contracts.kit.settings import HttpServerSettings, load_settings
    from contracts.kit.uvicorn_limits import protocol_class
    from contracts.topology import SERVICES, by_name

    service = by_name(name)
    if service.name == "gateway":
        return gateway_cli.serve(host, port)
    # The platform's own clients, whose platform headers this service believes (unless set).
    platform_clients = ",".join(s.client_id for s in SERVICES if s.client_id)
    os.environ.setdefault(f"{service.env_prefix}_PLATFORM_CLIENTS", platform_clients)
    limits = load_settings(HttpServerSettings, service.env_prefix)  # the app reads the same ones
    uvicorn.run(
        service.factory,
        factory=True,
        host=host,
        port=port or service.port,
        http=protocol_class(limits),  # header size and deadline; the rest is the app's RequestGuard
        # The client is the connection's peer: X-Forwarded-For is believed from nobody (uvicorn
        # would believe it from loopback, i.e. by network position).
        proxy_headers=False,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    return 0


def _register_platform_clients() -> int:
    from contracts.topology import SERVICES
    from plantbridge.launcher import register_clients

    given = {
        s.client_id: os.environ.get(f"{s.env_prefix}_CLIENT_SECRET", "") for s in SERVICES if s.client_id
    }
    missing = [f"{s.env_prefix}_CLIENT_SECRET" for s in SERVICES if s.client_id and not given[s.client_id]]
    if missing:
        print(f"register-platform-clients: set {', '.join(missing)}", file=sys.stderr)
        return 2
    register_clients({}, given)
    print(f"registered: {', '.join(given)}", file=sys.stderr)
    return 0


def _tryton_prepare() -> int:
    import asyncio

    from contracts.kit.settings import load_settings
    from system_apis.erp.backends.tryton.client import TrytonClient
    from system_apis.erp.backends.tryton.provision import prepare
    from system_apis.erp.settings import ErpSettings

    settings = load_settings(ErpSettings, "ERP").tryton()

    async def run() -> None:
        client = TrytonClient(settings.url, settings.database, settings.user, settings.password)
        try:
            await prepare(client, settings.locations)
        finally:
            await client.close()

    asyncio.run(run())
    print(f"tryton-prepare: {settings.url} database {settings.database} is ready", file=sys.stderr)
    return 0


def _migrate(name: str) -> int:
    from contracts.topology import by_name

    service = by_name(name)
    module = importlib.import_module(service.module)
    app = module.create_app()
    spec = module.SPEC
    from contracts.kit import migrations

    migrations.upgrade(app.state["runtime"].settings.database_url, spec.versions_dir, spec.metadata)
    print(f"{name}: migrated", file=sys.stderr)
    return 0
