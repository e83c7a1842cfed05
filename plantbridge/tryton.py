"""A local Tryton server for `plantbridge up --erp tryton`, the tests and the benchmark.

Tryton is installed from the package's `tryton` extra when missing. A database is initialised
once (`trytond-admin`, about 90 s on a 2-core machine), kept as a template and copied for each
new database, which then starts in seconds.

The server is Tryton's WSGI application (`trytond.application:app`) under granian with several
worker processes, as Tryton documents for production: its built-in `trytond` command is
werkzeug's development server, one process whose threads share one GIL, so a second request
waits for the first one's CPU. `TRYTOND_DATABASE_NAMES` makes each worker load the database's
pool before it serves (without it every login fails: the pool is never loaded).
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

# purchase_requisition: our purchase requisitions; stock_supply: reorder points (order points).
MODULES = (
    "purchase",
    "purchase_requisition",
    "stock_lot",
    "stock_supply",
    "production",
    "quality",
    "account_invoice",
    "account_payment",  # payment blocks on supplier invoice lines (held lots)
)
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
        self,
        folder: Path,
        database: str = "plant",
        port: int | None = None,
        postgres: str | None = None,
        workers: int = 2,
    ) -> None:
        self.folder = folder.resolve()
        self.database = database
        self.postgres = postgres
        self.port = port or free_port()
        self.workers = workers
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
        config.write_text(_database_section(self.folder, self.postgres) + "[session]\nmax_attempt = 100\n")
        return config

    def initialise(self) -> bool:
        """Create the database (from the template when there is one); False if it existed."""
        if self.postgres:
            return _initialise_on_postgres(self.folder, self.postgres, self.database)
        if self.file.exists():
            self._activate_modules()
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        template = self.folder / f"{TEMPLATE}.sqlite"
        if not template.exists():
            initialise_template(self.folder)
        shutil.copyfile(template, self.file)
        if _modules_of(template) == list(MODULES):
            _modules_of(self.file, MODULES)
        self._activate_modules()
        return True

    def _activate_modules(self) -> None:
        """Activate what MODULES names and this database lacks: one kept under ./data from before a
        module was added (a marker beside each database says which modules it has)."""
        if _modules_of(self.file) == list(MODULES):
            return
        print("tryton: activating its modules in the existing database (about a minute) ...", flush=True)
        _admin(self.folder, None, self.database, everything=False)
        _modules_of(self.file, MODULES)

    def spawn(self) -> None:
        env = {
            **os.environ,
            "TRYTOND_CONFIG": str(self._config()),
            "TRYTOND_DATABASE_NAMES": self.database,
            "TRYTOND_LOGGING_LEVEL": "30",
        }
        self._launch(
            [
                *(sys.executable, "-m", "granian", "--interface", "wsgi", "--no-ws"),
                *("--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)),
                # One request at a time per worker: Tryton's work is CPU under the GIL.
                *("--blocking-threads", "1", "--log-level", "warning"),
                "trytond.application:app",
            ],
            env,
        )

    def ready(self) -> bool:
        """Answering RPC: granian listens before its workers have loaded Tryton's pool."""
        import httpx

        if not port_open(self.port):
            return False
        body = {"id": 0, "method": "common.server.version", "params": []}
        try:
            return httpx.post(f"{self.url}/rpc/", json=body, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 90.0) -> TrytonServer:
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
    _modules_of(template, MODULES)
    return template


def _modules_of(database: Path, modules: tuple[str, ...] | None = None) -> list[str]:
    """The modules a database file was given (read, or written when `modules` is passed)."""
    marker = database.with_suffix(".modules")
    if modules is not None:
        marker.write_text(" ".join(modules))
    return marker.read_text().split() if marker.exists() else []


def _admin(folder: Path, postgres: str | None, database: str, *, everything: bool = True) -> None:
    """`trytond-admin`: initialise a database with MODULES (`everything`), or activate MODULES."""
    password = folder / "admin-password"
    password.write_text(ADMIN_PASSWORD)
    config = folder / "trytond-admin.conf"
    config.write_text(_database_section(folder, postgres))
    done = subprocess.run(
        [
            _binary("trytond-admin"),
            *("-c", str(config), "-d", database, *(("--all",) if everything else ())),
            *("--email", "admin@example.com"),
            *("-u", *MODULES, "--activate-dependencies"),
        ],
        env={**os.environ, "TRYTONPASSFILE": str(password)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if done.returncode:
        raise RuntimeError(f"trytond-admin failed ({done.returncode}): {done.stderr.decode()[-2000:]}")


def _database_section(folder: Path, postgres: str | None) -> str:
    if postgres:
        return f"[database]\nuri = {postgres}\n"
    return f"[database]\nuri = sqlite://\npath = {folder.resolve()}\n"


def _initialise_on_postgres(folder: Path, postgres: str, database: str) -> bool:
    """The template database once, then each database as a copy of it (CREATE DATABASE ... TEMPLATE)."""
    import psycopg  # Tryton's own PostgreSQL driver, in the `tryton` extra
    from psycopg import sql

    connection = psycopg.connect(f"{postgres.rstrip('/')}/postgres", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database")
            existing = {row[0] for row in cursor.fetchall()}
            if database in existing:
                return False
            template = f"{TEMPLATE}_tryton"
            if template not in existing:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
                _admin(folder, postgres, template)
            cursor.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(database), sql.Identifier(template)
                )
            )
    finally:
        connection.close()
    return True
