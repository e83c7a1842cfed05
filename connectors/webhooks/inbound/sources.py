"""Inbound sources: who may post webhooks to us, with which secrets, and how each of their event
types maps to one of our commands. Configuration, not code: a TOML file (WEBHOOKS_SOURCES_FILE),
checked whole at start so a typo stops the service instead of dropping webhooks later.

    [sources.cloudqms]                      # POST /webhooks/v1/inbound/cloudqms
    title = "CloudQMS (SaaS QMS)"
    secrets = ["env:CLOUDQMS_WEBHOOK_SECRET"] # whsec_... values, or env:NAME; two during a rotation

    [[sources.cloudqms.mappings]]
    when_type = "inspection.completed"      # the payload's type (at `type_pointer`, default /type)
    command = "record-inspection-results"
    fields = { inspection_lot_id = "/data/lotRef", recorded_by = "/data/inspector", results = "/data/checks" }
    item_fields = { characteristic = "/code", value = "/measured", unit = "/uom", conforming = "/ok" }
    values = { conforming = { PASS = true, FAIL = false } }

Pointers are RFC 6901 JSON pointers into the payload (`item_fields` into each element of a list
field). A source with `supplier_id` is a supplier's own system: it may act only on that supplier's
records, by the supplier portal's rules.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
from standardwebhooks import Webhook

from connectors.webhooks.inbound.commands import COMMANDS
from contracts.kit.patterns import whole

SOURCE_NAME = whole(r"[a-z0-9][a-z0-9-]{0,62}")
_POINTER = re.compile(r"^(/([^~/]|~[01])*)*$")


class Mapping(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    when_type: str
    command: str
    fields: dict[str, str]
    item_fields: dict[str, str] = msgspec.field(default_factory=dict)
    values: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class Source(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    secrets: list[str]
    mappings: list[Mapping]
    title: str = ""
    supplier_id: str | None = None
    type_pointer: str = "/type"


class SourcesFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    sources: dict[str, Source] = msgspec.field(default_factory=dict)


class Configured(msgspec.Struct, frozen=True, kw_only=True):
    """A source ready to verify with: its secrets resolved, its mappings by type."""

    name: str
    title: str
    supplier_id: str | None
    type_pointer: str
    verifiers: tuple[Webhook, ...]
    by_type: dict[str, Mapping]


class SourcesError(ValueError):
    """The sources file is not valid; the message says where."""


def load_sources(path: str, env: dict[str, str] | None = None) -> dict[str, Configured]:
    if not path:
        return {}
    try:
        raw = tomllib.loads(Path(path).read_text())
        parsed = msgspec.convert(raw, SourcesFile)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise SourcesError(f"WEBHOOKS_SOURCES_FILE {path}: {exc}") from exc
    environ = os.environ if env is None else env
    return {name: _configure(name, source, environ) for name, source in parsed.sources.items()}


def _configure(name: str, source: Source, env: Any) -> Configured:
    where = f"source {name!r}"
    if not re.match(SOURCE_NAME, name):
        raise SourcesError(f"{where}: names are lowercase letters, digits and '-'")
    if not source.secrets:
        raise SourcesError(f"{where}: at least one secret is needed")
    verifiers = tuple(_verifier(where, secret, env) for secret in source.secrets)
    by_type: dict[str, Mapping] = {}
    for mapping in source.mappings:
        command = COMMANDS.get(mapping.command)
        if command is None:
            raise SourcesError(f"{where}: unknown command {mapping.command!r} (known: {', '.join(COMMANDS)})")
        if mapping.when_type in by_type:
            raise SourcesError(f"{where}: type {mapping.when_type!r} is mapped twice")
        missing = [f for f in command.required if f not in mapping.fields]
        unknown = [f for f in mapping.fields if f not in command.fields]
        unknown_items = [f for f in mapping.item_fields if f not in command.item_fields]
        if missing or unknown or unknown_items:
            raise SourcesError(
                f"{where}, {mapping.when_type!r} -> {mapping.command}: "
                f"missing {missing}, unknown {unknown + unknown_items} (fields: {sorted(command.fields)}, "
                f"item_fields: {sorted(command.item_fields)})"
            )
        bad = [p for p in [*mapping.fields.values(), *mapping.item_fields.values()] if not _POINTER.match(p)]
        if bad:
            raise SourcesError(f"{where}: not JSON pointers: {bad}")
        if command.for_suppliers and not source.supplier_id:
            raise SourcesError(f"{where}: {mapping.command} needs the source's supplier_id")
        by_type[mapping.when_type] = mapping
    if not _POINTER.match(source.type_pointer):
        raise SourcesError(f"{where}: type_pointer is not a JSON pointer")
    return Configured(
        name=name,
        title=source.title or name,
        supplier_id=source.supplier_id,
        type_pointer=source.type_pointer,
        verifiers=verifiers,
        by_type=by_type,
    )


def _verifier(where: str, secret: str, env: Any) -> Webhook:
    if secret.startswith("env:"):
        value = env.get(secret.removeprefix("env:"), "")
        if not value:
            raise SourcesError(f"{where}: the variable {secret.removeprefix('env:')} holds no secret")
        secret = value
    if not secret.startswith("whsec_"):
        raise SourcesError(f"{where}: secrets are whsec_... values (Standard Webhooks) or env:NAME")
    try:
        return Webhook(secret)
    except Exception as exc:
        raise SourcesError(f"{where}: a secret is not valid base64 after whsec_") from exc
