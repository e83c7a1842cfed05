"""Sync dependency providers resolve one by one, without Litestar's per-request task group
(contracts/kit/dependencies.py), and still resolve right: in graph order, cached where asked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, get
from litestar._kwargs import kwargs_model
from litestar.di import NamedDependency, Provide
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from contracts.kit.dependencies import resolve_sync_providers_inline

Dep = NamedDependency[str]


def _plant() -> str:
    return "P1"


def _line(plant: Dep) -> str:  # depends on another provider: a later batch
    return f"{plant}/L2"


def _operator() -> str:
    return "op-7"


async def _remote() -> str:
    await asyncio.sleep(0)
    return "remote"


def _app(*, remote: bool = False) -> Litestar:
    if remote:

        @get("/where", sync_to_thread=False)
        def where(plant: Dep, line: Dep, operator: Dep, remote: Dep) -> dict[str, str]:
            return {"plant": plant, "line": line, "operator": operator, "remote": remote}

    else:

        @get("/where", sync_to_thread=False)
        def where(plant: Dep, line: Dep, operator: Dep) -> dict[str, str]:
            return {"plant": plant, "line": line, "operator": operator}

    app = Litestar(
        [where],
        dependencies={
            "plant": Provide(_plant, sync_to_thread=False),
            "line": Provide(_line, sync_to_thread=False),
            "operator": Provide(_operator, use_cache=True, sync_to_thread=False),
            "remote": Provide(_remote),
        },
    )
    resolve_sync_providers_inline(app)
    return app


def _no_task_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> Any:
        raise AssertionError("a task group was opened for sync providers")

    monkeypatch.setattr(kwargs_model, "create_task_group", refuse)


def test_sync_providers_resolve_in_order_without_a_task_group(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_task_groups(monkeypatch)
    with TestClient(_app()) as client:
        for _ in range(2):  # the cached provider answers again
            response = client.get("/where")
            assert response.status_code == 200, response.text
            assert response.json() == {"plant": "P1", "line": "P1/L2", "operator": "op-7"}


def test_an_async_provider_still_resolves_beside_sync_ones() -> None:
    with TestClient(_app(remote=True)) as client:
        response = client.get("/where")
    assert response.json() == {"plant": "P1", "line": "P1/L2", "operator": "op-7", "remote": "remote"}


def test_every_service_app_resolves_its_sync_providers_inline(tmp_path: Path) -> None:
    from system_apis.erp.app import create_app  # session, erp and op: three sync providers

    app = create_app(database_url=f"sqlite+aiosqlite:///{tmp_path}/erp.db", migrate_on_start=False)
    models = [m for r in app.routes if isinstance(r, HTTPRoute) for _, m in r.route_handler_map.values()]
    assert any(len(m.dependency_batches) >= 3 for m in models)  # the handlers taking all three
    assert all(len(batch) == 1 for m in models for batch in m.dependency_batches)
