"""A local Tryton server for `plantbridge up --erp tryton`, the tests and the benchmark.

Tryton is installed from the package's `tryton` extra when missing. A database is initialised
once (`trytond-admin`, about 90 s on a 2-core machine), kept as a template and copied for each
new database, which then starts in seconds; the server runs as `trytond -c <conf> -d <name>`
(without `-d` Tryton never loads the database and every login fails).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from plantbridge.processes import ChildProcess, free_port, port_open

MODULES = ("purchase", "stock_lot", "production", "quality", "account_invoice")
ADMIN_PASSWORD = "admin"
TEMPLATE = "template"


def ensure_installed() -> None:
    """Install the `tryton` extra of this package into the running interpreter if it is missing."""
    if importlib.util.find_spec("trytond") and importlib.util.find_spec("trytond.modules.stock_lot"):
        return
    from importlib.metadata import requires

    wanted = [r.split(";")[0].strip() for r in requires("plantbridge") or [] if 'extra == "tryton"' in r]
    print(f"tryton: installing {' '.join(wanted)}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *wanted], check=True)


def _binary(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


class TrytonServer(ChildProcess):
    """One trytond process serving one database: a SQLite file under `folder`, or on a
    PostgreSQL server when `postgres` names one (`postgresql://user@host:port/`)."""

    def __init__(
        self, folder: Path, database: str = "plant", port: int | None = None, postgres: str | None = None
    ) -> None:
        self.folder = folder.resolve()
        self.database = database
        self.postgres = postgres
        self.port = port or free_port()
        self.name = "tryton"
        self.process = None
        self.log_path = self.folder / f"trytond-{database}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def file(self) -> Path:
        return self.folder / f"{self.database}.sqlite"

    def _config(self) -> Path:
        config = self.folder / f"trytond-{self.port}.conf"
        config.write_text(
            _database_section(self.folder, self.postgres) + f"[web]\nlisten = 127.0.0.1:{self.port}\n"
            "[session]\nmax_attempt = 100\n"
        )
        return config

    def initialise(self) -> bool:
        """Create the database (from the template when there is one); False if it existed."""
        if self.postgres:
            return _initialise_on_postgres(self.folder, self.postgres, self.database)
        if self.file.exists():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        template = self.folder / f"{TEMPLATE}.sqlite"
        if not template.exists():
            initialise_template(self.folder)
        shutil.copyfile(template, self.file)
        return True

    def spawn(self) -> None:
        config = self._config()
        command = [_binary("trytond"), "-c", str(config), "-d", self.database]
        self._launch(command, {**os.environ, "TRYTOND_LOGGING_LEVEL": "30"})

    def ready(self) -> bool:
        return port_open(self.port)

    def start(self, timeout: float = 60.0) -> TrytonServer:
        return super().start(timeout)

    def prepare(self, locations: str) -> None:
        """Company, categories and the mapped locations (system_apis/erp/backends/tryton/provision.py)."""
        from system_apis.erp.backends.tryton.client import TrytonClient
        from system_apis.erp.backends.tryton.provision import prepare
        from system_apis.erp.backends.tryton.settings import parse_location_map

        async def run() -> None:
            client = TrytonClient(self.url, self.database, "admin", ADMIN_PASSWORD)
            try:
                await prepare(client, parse_location_map(locations))
            finally:
                await client.close()

        asyncio.run(run())

    def erp_env(self, locations: str) -> dict[str, str]:
        """ERP_* settings that put the ERP API in front of this server."""
        return {
            "ERP_BACKEND": "tryton",
            "ERP_TRYTON_URL": self.url,
            "ERP_TRYTON_DATABASE": self.database,
            "ERP_TRYTON_USER": "admin",
            "ERP_TRYTON_PASSWORD": ADMIN_PASSWORD,
            "ERP_TRYTON_LOCATIONS": locations,
        }


def initialise_template(folder: Path) -> Path:
    """`trytond-admin --all` with our modules into `<folder>/template.sqlite` (about 90 s)."""
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / f"{TEMPLATE}.sqlite"
    partial = folder / f"{TEMPLATE}-initialising.sqlite"
    partial.unlink(missing_ok=True)
    partial.touch()
    _admin(folder, None, partial.stem)
    partial.rename(template)
    return template


def _admin(folder: Path, postgres: str | None, database: str) -> None:
    password = folder / "admin-password"
    password.write_text(ADMIN_PASSWORD)
    config = folder / "trytond-admin.conf"
    config.write_text(_database_section(folder, postgres))
    subprocess.run(
        [
            _binary("trytond-admin"),
            *("-c", str(config), "-d", database, "--all", "--email", "admin@example.com"),
            *("-u", *MODULES, "--activate-dependencies"),
        ],
        check=True,
        env={**os.environ, "TRYTONPASSFILE": str(password)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _database_section(folder: Path, postgres: str | None) -> str:
    if postgres:
        return f"[database]\nuri = {postgres}\n"
    return f"[database]\nuri = sqlite://\npath = {folder.resolve()}\n"


def _initialise_on_postgres(folder: Path, postgres: str, database: str) -> bool:
    """The template database once, then each database as a copy of it (CREATE DATABASE ... TEMPLATE)."""
    import psycopg2  # the `tryton` extra's PostgreSQL driver, Tryton's own

    connection = psycopg2.connect(f"{postgres.rstrip('/')}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database")
            existing = {row[0] for row in cursor.fetchall()}
            if database in existing:
                return False
            template = f"{TEMPLATE}_tryton"
            if template not in existing:
                cursor.execute(f'CREATE DATABASE "{template}"')
                _admin(folder, postgres, template)
            cursor.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    finally:
        connection.close()
    return True
