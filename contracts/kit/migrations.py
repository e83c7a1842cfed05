"""Alembic per service, driven from code: `upgrade` at start, `autogenerate` for new revisions."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, make_url

from contracts.kit import tables

ENV_DIR = Path(__file__).parent / "alembic"
Schema = MetaData | Sequence[MetaData]  # a service's tables, plus kernel tables it opts into (flows)


def alembic_config(url: str, versions_dir: Path, metadata: Schema) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENV_DIR))
    config.set_main_option("version_locations", str(versions_dir))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    own = [metadata] if isinstance(metadata, MetaData) else list(metadata)
    config.attributes["target_metadata"] = [*own, tables.metadata]
    return config


def upgrade(url: str, versions_dir: Path, metadata: Schema) -> None:
    """Blocking; call it from a thread when an event loop is running."""
    with _one_migrator(url):
        command.upgrade(alembic_config(url, versions_dir, metadata), "head")


@contextmanager
def _one_migrator(url: str) -> Iterator[None]:
    """Processes starting together on one SQLite file (granian workers) migrate one at a time.

    SQLite runs DDL outside a transaction here, so two workers both read "no revision yet" and
    the second fails on "duplicate column". PostgreSQL gets the same guarantee from an advisory
    lock in env.py; SQLite has no such lock, and a SQLite file lives on one host, so a lock file
    beside it is enough.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def autogenerate(url: str, versions_dir: Path, metadata: Schema, message: str) -> None:
    versions_dir.mkdir(parents=True, exist_ok=True)
    command.revision(alembic_config(url, versions_dir, metadata), message=message, autogenerate=True)
