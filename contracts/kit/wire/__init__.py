"""The wire types of the kernel: the base of every request and response body, the shape of a
record id and of free text, and the bodies of the APIs the kernel serves itself (audit trail, flow
store, approvals, documents).

Domain models (`contracts/models/`) build on these; nothing here knows a business word.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from contracts.kit.patterns import whole

ID_PATTERN = whole(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
ID_MAX = 64
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
# Free text (a comment, a reason): bounded, and no NUL characters, which PostgreSQL cannot store.
Text = Annotated[str, msgspec.Meta(max_length=4000, pattern=whole(r"[^\x00]*"))]


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown fields are refused so typos never pass silently."""


class Output(msgspec.Struct, kw_only=True):
    """Base of response bodies: consumers ignore fields they do not know."""


__all__ = ["ID_MAX", "ID_PATTERN", "Id", "Input", "Output", "Text"]
