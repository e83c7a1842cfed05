"""Build every service's OpenAPI documents, one per major version, in a stable text form."""

from __future__ import annotations

import importlib
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.kit.openapi import MAJOR_PATH, split_by_major
from contracts.topology import SERVICES, Service

ROOT = Path(__file__).resolve().parents[2] / "contracts"  # the documents live beside the schemas
OPENAPI_DIR = ROOT / "openapi"
RELEASED_DIR = OPENAPI_DIR / "released"
ASYNCAPI_DIR = ROOT / "asyncapi"


@dataclass
class Build:
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # file name -> document
    skipped: dict[str, str] = field(default_factory=dict)  # service -> why it has no document
    errors: dict[str, str] = field(default_factory=dict)  # service -> why its build failed


def dumps(document: Any) -> str:
    """The committed form: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def file_name(service: str, major: int) -> str:
    return f"{service}.v{major}.json"


def service_schema(service: Service, database_url: str) -> dict[str, Any] | None:
    """The whole OpenAPI document of one service's app, or None if it serves none (the gateway)."""
    module_name, _, factory_name = service.factory.partition(":")
    with warnings.catch_warnings():
        # Building a document is not the place to judge a service's use of deprecated APIs
        # (its own tests do); under warnings-as-errors they would stop the build.
        warnings.simplefilter("ignore", DeprecationWarning)
        factory = getattr(importlib.import_module(module_name), factory_name)
        app = factory(database_url=database_url)
    schema = getattr(app, "openapi_schema", None)
    if schema is None:
        return None
    document: dict[str, Any] = schema.to_schema()
    return document


def _versions(service: Service) -> dict[int, str]:
    """major -> info.version, from the service's ServiceSpec when it has one."""
    spec = getattr(importlib.import_module(service.module), "SPEC", None)
    versions: dict[int, str] = {}
    for path, version in [
        (getattr(spec, "api_path", ""), getattr(spec, "api_version", "")),
        *((v.api_path, v.api_version) for v in getattr(spec, "versions", ())),
    ]:
        match = MAJOR_PATH.match(path)
        if match:
            versions[int(match["major"])] = version
    return versions


def build_all(only: set[str] | None = None) -> Build:
    build = Build()
    with tempfile.TemporaryDirectory(prefix="plantbridge-contracts-") as folder:
        for service in SERVICES:
            if only and service.name not in only:
                continue
            try:
                # A throwaway SQLite database: building the app must not touch real data.
                whole = service_schema(service, f"sqlite+aiosqlite:///{folder}/{service.name}.db")
                if whole is None:
                    build.skipped[service.name] = "serves no OpenAPI document"
                    continue
                versions = _versions(service)
            except Exception as exc:  # a broken service must not hide the others' results
                build.errors[service.name] = f"{type(exc).__name__}: {exc}"
                continue
            for major, doc in split_by_major(whole, service.name, versions).items():
                build.documents[file_name(service.name, major)] = doc
    return build


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def committed(folder: Path = OPENAPI_DIR) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.glob("*.v*.json"))}


def load_text(text: str) -> Any:
    return json.loads(text)
