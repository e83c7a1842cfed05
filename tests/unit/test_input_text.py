"""Every string a request body takes refuses NUL: PostgreSQL cannot store it in text, so a NUL
that passed the wire model was a 500 there (and stored as sent on SQLite)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator

import msgspec.inspect as mi

import contracts.models
from contracts.kit.wire import Input

# Request bodies live in contracts/ (the wire models and the kernel's own); other Input
# structs (a plant file, a flow's rules) are configuration, read from files the operator writes.
_KERNEL_BODIES = "contracts.kit.wire.flows"


def _bodies() -> list[type[Input]]:
    models = (f"contracts.models.{module.name}" for module in pkgutil.iter_modules(contracts.models.__path__))
    for name in (*models, _KERNEL_BODIES):
        importlib.import_module(name)
    found: list[type[Input]] = []
    todo = [Input]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("contracts."):
                found.append(sub)
    return found


def _strings(info: mi.Type, where: str, seen: set[type]) -> Iterator[tuple[str, mi.StrType]]:
    if isinstance(info, mi.StrType):
        yield where, info
    elif isinstance(info, mi.StructType):
        if info.cls in seen:
            return
        seen.add(info.cls)
        for field in info.fields:
            yield from _strings(field.type, f"{info.cls.__name__}.{field.name}", seen)
    elif isinstance(info, mi.UnionType):
        for variant in info.types:
            yield from _strings(variant, where, seen)
    elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        yield from _strings(info.item_type, f"{where}[]", seen)
    elif isinstance(info, mi.DictType):
        yield from _strings(info.key_type, f"{where} key", seen)
        yield from _strings(info.value_type, f"{where} value", seen)
    elif isinstance(info, mi.TupleType):
        for item in info.item_types:
            yield from _strings(item, where, seen)


def test_no_request_body_string_takes_a_nul() -> None:
    bodies = _bodies()
    assert len(bodies) > 80
    seen: set[type] = set()
    strings = [s for body in bodies for s in _strings(mi.type_info(body), body.__name__, seen)]
    assert len(strings) > 100
    takes_nul = sorted(
        where for where, info in strings if info.pattern is None or re.search(info.pattern, "a\x00b")
    )
    assert takes_nul == []
