"""Alembic per service, driven from code: `upgrade` at start, `autogenerate` for new revisions.

The kernel's tables are migrated by the kit's own revisions, one labelled Alembic branch per
group a service may opt into (`versions/<branch>/`): `kernel` (outbox, inbox, idempotency keys:
every service), `kernel_audit`, `kernel_flows` and `kernel_documents`. A service's versions
folder holds its own tables only; its revisions name the kernel revisions they build on in
`depends_on`. A service's Alembic sees its own folder and the kernel branches of the kernel
metadata it migrates, and upgrades to all their heads, so a database holds the kernel tables its
service uses and no others.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, make_url

from contracts.kit import tables

ENV_DIR = Path(__file__).parent.parent / "alembic"
KERNEL_DIR = Path(__file__).parent / "versions"
Schema = MetaData | Sequence[MetaData]  # a service's tables, plus kernel tables it opts into (flows)

# Each kernel branch (its label and its folder under versions/), by a table it makes: a service
# whose schema has that table (`audit_metadata`, `flow_metadata`, ...) migrates the branch.
KERNEL_BRANCHES = {
    "kernel": "kit_outbox",
    "kernel_audit": "kit_audit",
    "kernel_flows": "kit_flows",
    "kernel_documents": "kit_documents",
}


def versions_of(package: str) -> Path:
    """Where a service keeps the revisions of its own tables: `<its package>/migrations/versions`
    (the folder need not exist while it has none)."""
    init = import_module(package).__file__
    if init is None:
        raise ValueError(f"{package} is a namespace package: a service is a package with an __init__.py")
    return Path(init).parent / "migrations" / "versions"


def with_kernel(metadata: Schema) -> list[MetaData]:
    """What a service migrates: its schema, and the kernel tables every service has."""
    own = [metadata] if isinstance(metadata, MetaData) else list(metadata)
    return [*own, tables.metadata] if tables.metadata not in own else own


def kernel_branches(metadata: Schema) -> list[str]:
    """The kernel branches a service with this schema migrates (`kernel` always)."""
    names = {name for meta in with_kernel(metadata) for name in meta.tables}
    return [label for label, table in KERNEL_BRANCHES.items() if table in names]


def alembic_config(url: str, versions_dir: Path, metadata: Schema) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENV_DIR))
    # A service with no tables of its own has no folder of its own (yet).
    own = [versions_dir] if versions_dir.is_dir() else []
    folders = [*own, *(KERNEL_DIR / label for label in kernel_branches(metadata))]
    config.set_main_option("version_locations", os.pathsep.join(str(folder) for folder in folders))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    config.attributes["target_metadata"] = with_kernel(metadata)
    return config


def upgrade(url: str, versions_dir: Path, metadata: Schema) -> None:
    """Blocking; call it from a thread when an event loop is running."""
    with _one_migrator(url):
        command.upgrade(alembic_config(url, versions_dir, metadata), "heads")


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
    """A revision of the service's own tables on its head; a first one builds on the kernel's heads.

    Autogenerate compares the models with a database at every head, so the kernel's tables,
    made by the kernel's revisions, never land in a service's revision.
    """
    versions_dir.mkdir(parents=True, exist_ok=True)
    upgrade(url, versions_dir, metadata)
    config = alembic_config(url, versions_dir, metadata)
    script = ScriptDirectory.from_config(config)
    folder = versions_dir.resolve()
    own = [head for head in script.get_revisions("heads") if Path(head.path).resolve().parent == folder]
    if len(own) > 1:
        raise RuntimeError(f"{versions_dir} has {len(own)} heads; merge them first (alembic merge)")
    kernel = [script.get_revision(f"{label}@head") for label in kernel_branches(metadata)]
    command.revision(
        config,
        message=message,
        autogenerate=True,
        head=own[0].revision if own else "base",
        # Typed `str`, but passed on to generate_revision, which takes a list (as --depends-on does).
        depends_on=None if own else cast(str, [revision.revision for revision in kernel if revision]),
        version_path=str(versions_dir),
    )
