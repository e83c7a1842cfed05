"""Consumer checks: every call a typed client in contracts/clients makes is an operation of the
provider's committed document (same method, a path that fits one of its templates)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import pkgutil
from typing import Any

import contracts.clients
from contracts.clients.base import ApiClient
from plantbridge.governance import documents as docs


class _Recorded(Exception):
    pass


def _calls(client_type: type[ApiClient]) -> list[tuple[str, str, str]]:
    """(client method, HTTP method, path) of every public method, stopped at its first request."""
    seen: list[tuple[str, str, str]] = []

    class Recording(client_type):  # type: ignore[misc, valid-type]
        async def _send(self, method: str, target: str, *body_and_headers: Any) -> Any:
            seen.append((self._current, method, target.partition("?")[0]))
            raise _Recorded

    client = Recording("http://provider.invalid")
    for name, function in inspect.getmembers(client_type, inspect.iscoroutinefunction):
        if name.startswith("_") or name == "aclose" or not hasattr(function, "__qualname__"):
            continue
        if function.__qualname__.split(".")[0] != client_type.__name__:
            continue  # the base class's own verbs (get, post, ...)
        params = list(inspect.signature(function).parameters.values())[1:]
        required = [p for p in params if p.default is inspect.Parameter.empty]
        # A query mapping gets an empty one, a list of lines none (a method that posts each line
        # does so through another method, checked on its own); any other argument a marker that
        # fits a path segment.
        args = {p.name: _placeholder(p) for p in required}
        client._current = name
        with contextlib.suppress(_Recorded):
            asyncio.run(getattr(client, name)(**args))
    asyncio.run(client.aclose())
    return seen


def _placeholder(parameter: inspect.Parameter) -> Any:
    annotation = str(parameter.annotation)
    if annotation.startswith("dict"):
        return {}
    if annotation.startswith("Sequence"):
        return []
    return f"P-{parameter.name}"


def _clients() -> list[tuple[str, type[ApiClient]]]:
    found = []
    for info in pkgutil.iter_modules(contracts.clients.__path__):
        module = importlib.import_module(f"contracts.clients.{info.name}")
        api = getattr(module, "API", None)
        for value in vars(module).values():
            ours = inspect.isclass(value) and value.__module__ == module.__name__
            if api and ours and issubclass(value, ApiClient) and value is not ApiClient:
                found.append((api, value))
    return found


def _fits(path: str, template: str) -> bool:
    """A recorded argument (P-...) fits any segment (a free-form `action` argument fits every
    documented action); a template parameter fits any segment; other segments must be equal."""
    got, want = path.split("/"), template.split("/")
    return len(got) == len(want) and all(
        g.startswith("P-") or w.startswith("{") or g == w for g, w in zip(got, want, strict=True)
    )


def test_every_client_call_exists_in_the_provider_document() -> None:
    clients = _clients()
    assert {api for api, _ in clients} >= {"/erp/v1", "/qms/v1"}
    missing = []
    checked = 0
    for api, client_type in clients:
        service, major = api.strip("/").split("/")
        document = docs.load(docs.OPENAPI_DIR / f"{service}.{major}.json")
        operations = [(method.upper(), path) for path, item in document["paths"].items() for method in item]
        calls = _calls(client_type)
        assert calls, f"{client_type.__name__} made no calls"
        for name, method, path in calls:
            checked += 1
            if not any(m == method and _fits(path, t) for m, t in operations):
                missing.append(
                    f"{client_type.__name__}.{name}: {method} {path} is not in {service}.{major}.json"
                )
    assert missing == []
    assert checked > 10
