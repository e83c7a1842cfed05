"""Alembic per service, driven from code: `upgrade` at start, `autogenerate` for new revisions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

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
    command.upgrade(alembic_config(url, versions_dir, metadata), "head")


def autogenerate(url: str, versions_dir: Path, metadata: Schema, message: str) -> None:
    versions_dir.mkdir(parents=True, exist_ok=True)
    command.revision(alembic_config(url, versions_dir, metadata), message=message, autogenerate=True)
