"""The kernel's tables are the kit's Alembic branches (contracts/kit/migrations/versions).

A database made by the migrations as they were before (each service creating its own copy of
the kernel tables, commit BASELINE) upgrades to the new layout with every row intact, and ends at
every head of the new graph with a schema that matches the models. A fresh database gets the
kernel tables its service uses and no others.
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from contracts.kit import migrations
from contracts.kit.flows.store import flow_metadata
from contracts.topology import SERVICES
from gateway.app import VERSIONS_DIR as GATEWAY_VERSIONS
from gateway.store import metadata as gateway_metadata

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "12603f3126866f2d8ebc3c189f69d797ac198342"  # main before the kernel became a branch
BASELINE_VERSIONS = Path(__file__).with_name("versions-12603f3.tar.gz")
KERNEL_TABLES = {
    "kernel": {"kit_outbox", "kit_inbox", "kit_idempotency_keys"},
    "kernel_audit": {"kit_audit"},
    "kernel_flows": {"kit_flows", "kit_flow_keys", "kit_flow_timeline", "kit_flow_approvals"},
    "kernel_documents": {"kit_documents"},
}


@dataclass(frozen=True)
class Migrated:
    name: str
    versions_dir: Path
    metadata: migrations.Schema

    @property
    def tables(self) -> list[Table]:
        return [table for meta in migrations.with_kernel(self.metadata) for table in meta.sorted_tables]


def _every_service() -> list[Migrated]:
    found = [Migrated("gateway", GATEWAY_VERSIONS, gateway_metadata)]
    for service in SERVICES:
        spec = getattr(importlib.import_module(service.module), "SPEC", None)
        if spec is not None:
            found.append(Migrated(service.name, spec.versions_dir, spec.metadata))
    return found


EVERY = _every_service()
BY_NAME = {service.name: service for service in EVERY}
CASES = [
    pytest.param(backend, service.name, id=f"{backend}-{service.name}")
    for backend in ("sqlite", "postgres")
    for service in EVERY
]


def test_no_service_migration_creates_or_alters_a_kernel_table() -> None:
    copies = [
        str(path.relative_to(ROOT))
        for service in EVERY
        for path in sorted(service.versions_dir.glob("*.py"))
        if "kit_" in path.read_text().split("def upgrade", 1)[1]
    ]
    assert copies == []


@pytest.mark.parametrize(("backend", "name"), CASES)
async def test_a_database_at_yesterdays_head_upgrades_with_its_rows_intact(
    backend: str, name: str, database_url: Callable[[str, str], str], tmp_path: Path
) -> None:
    service = BY_NAME[name]
    url = database_url(backend, f"upgrade_{name}")
    yesterday = _checkout(service.versions_dir, tmp_path)
    await asyncio.to_thread(command.upgrade, _old_config(url, yesterday), "head")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            before_heads = await conn.run_sync(_heads)
            await conn.run_sync(_fill, service.tables)
        async with engine.connect() as conn:
            rows_before = await conn.run_sync(_rows, service.tables)
        assert all(len(rows) == 1 for rows in rows_before.values()), rows_before

        await asyncio.to_thread(migrations.upgrade, url, service.versions_dir, service.metadata)

        async with engine.connect() as conn:
            assert await conn.run_sync(_rows, service.tables) == rows_before
            # Nothing to redo: the service's head already stands on the kernel revisions it needs.
            assert await conn.run_sync(_heads) == before_heads
            if "kit_audit" in rows_before:
                await conn.run_sync(_refuses_audit_update)
    finally:
        await engine.dispose()
    # At every head of the new graph, with a schema that matches the models (raises otherwise).
    config = migrations.alembic_config(url, service.versions_dir, service.metadata)
    await asyncio.to_thread(command.check, config)


@pytest.mark.parametrize("name", [service.name for service in EVERY])
async def test_a_fresh_database_gets_the_kernel_tables_its_service_uses(
    name: str, database_url: Callable[[str, str], str]
) -> None:
    service = BY_NAME[name]
    url = database_url("sqlite", f"fresh_{name}")
    await asyncio.to_thread(migrations.upgrade, url, service.versions_dir, service.metadata)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    wanted = set().union(*(KERNEL_TABLES[b] for b in migrations.kernel_branches(service.metadata)))
    assert {table for table in names if table.startswith("kit_")} == wanted
    config = migrations.alembic_config(url, service.versions_dir, service.metadata)
    await asyncio.to_thread(command.check, config)


def _checkout(versions_dir: Path, into: Path) -> Path:
    """The service's versions folder as it was at BASELINE, from the archive committed beside this
    test (`git archive BASELINE <every versions folder>`): a shallow clone has no history to read."""
    relative = versions_dir.resolve().relative_to(ROOT).as_posix()
    with tarfile.open(BASELINE_VERSIONS) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(f"{relative}/")]
        assert members, f"{relative} is not in {BASELINE_VERSIONS.name}"
        tar.extractall(into, members=members, filter="data")
    return into / relative


def _old_config(url: str, versions_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations.ENV_DIR))
    config.set_main_option("version_locations", str(versions_dir))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    config.attributes["target_metadata"] = []
    return config


def _heads(conn: Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


def _value(column: Any) -> Any:
    """One value of the column's type; the same for every column of a type, so foreign keys
    (`lots.item_id` -> `items.id`) point at the one row of the table they name."""
    kind = column.type
    if isinstance(kind, TypeDecorator):  # such as the kit's UTCDateTime: the stored type counts
        kind = kind.impl_instance
    if isinstance(kind, DateTime):
        return datetime(2026, 12, 1, 8, 30, tzinfo=UTC if kind.timezone else None)
    if isinstance(kind, Date):
        return date(2026, 12, 1)
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, Numeric | Float):
        return Decimal("2.5") if isinstance(kind, Numeric) and kind.asdecimal else 2.5
    if isinstance(kind, LargeBinary):
        return b"\x00payload"
    if isinstance(kind, JSON):
        return {"kept": ["as", "is"]}
    if isinstance(kind, String):
        return "K1"[: kind.length] if kind.length else "K1 kept as is"
    raise AssertionError(f"no sample value for {column.table.name}.{column.name} ({kind!r})")


def _fill(conn: Connection, tables: list[Table]) -> None:
    for table in tables:
        conn.execute(table.insert().values({column.name: _value(column) for column in table.columns}))


def _rows(conn: Connection, tables: list[Table]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table.name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))]
        for table in tables
    }


def _refuses_audit_update(conn: Connection) -> None:
    """The audit trail's append-only triggers, made by yesterday's migration, are still there."""
    with pytest.raises(Exception, match=r"(?i)append-only|audit"):
        conn.execute(text("UPDATE kit_audit SET action = 'deleted'"))
    conn.rollback()


def test_a_new_services_first_revision_holds_its_own_tables_and_builds_on_the_kernel(
    tmp_path: Path,
) -> None:
    own = MetaData()
    Table("widgets", own, Column("id", String(10), primary_key=True))
    versions = tmp_path / "widgets" / "versions"
    url = f"sqlite+aiosqlite:///{tmp_path / 'widgets.db'}"
    migrations.autogenerate(url, versions, (own, flow_metadata), "initial")
    (first,) = versions.glob("*.py")
    script = ScriptDirectory.from_config(migrations.alembic_config(url, versions, (own, flow_metadata)))
    revision = script.get_revision(first.name.split("_", 1)[0])
    assert revision is not None
    kernel_heads = {script.get_revision(f"{label}@head") for label in ("kernel", "kernel_flows")}
    assert set(revision.dependencies or ()) == {head.revision for head in kernel_heads if head}
    body = first.read_text().split("def upgrade", 1)[1]
    assert "create_table('widgets'" in body
    assert "kit_" not in body


async def test_a_later_kernel_revision_reaches_an_upgraded_database(
    database_url: Callable[[str, str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kit adds a revision to a branch; a database from yesterday's migrations gets it."""
    service = BY_NAME["xref"]
    url = database_url("sqlite", "later_kernel_revision")
    await asyncio.to_thread(
        command.upgrade, _old_config(url, _checkout(service.versions_dir, tmp_path)), "head"
    )
    kit = tmp_path / "kit-versions"
    shutil.copytree(migrations.KERNEL_DIR, kit)
    head = ScriptDirectory.from_config(migrations.alembic_config(url, service.versions_dir, service.metadata))
    base = head.get_revision("kernel@head")
    assert base is not None
    (kit / "kernel" / "0ffe12c0ffee_inbox_note.py").write_text(
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        f"revision = '0ffe12c0ffee'\ndown_revision = '{base.revision}'\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        "    op.add_column('kit_inbox', sa.Column('note', sa.String(20), nullable=True))\n"
    )
    monkeypatch.setattr(migrations, "KERNEL_DIR", kit)
    await asyncio.to_thread(migrations.upgrade, url, service.versions_dir, service.metadata)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(_heads)
            columns = await conn.run_sync(lambda sync: inspect(sync).get_columns("kit_inbox"))
    finally:
        await engine.dispose()
    assert heads == {"0ffe12c0ffee", "58cf110ccf82"}  # the kernel's new head beside xref's of yesterday
    assert "note" in {column["name"] for column in columns}
