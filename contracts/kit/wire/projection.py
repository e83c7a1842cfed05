"""One API's record answered in another API's shape, field by field by name."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


def project(source: msgspec.Struct, target: type[T], **fields: Any) -> T:
    """`target` from the fields of `source` it names (enums as their values, as on the wire), with
    `fields` added or in place of some: a composing service's own shape of a record it read from
    another API. What `target` does not name is left behind, so nothing is shown by accident."""
    return msgspec.convert({**msgspec.to_builtins(source), **msgspec.to_builtins(fields)}, target)
