"""Patterns that mean the same to Python as to the JSON Schema readers of our documents.

msgspec and Litestar check a `pattern` with Python's `re.search`, where `$` also matches just
before a final newline: `^[A-Z]{2}$` lets `"US\\n"` in, and an id stored with a newline later
breaks the headers it is echoed in. In ECMA-262, which JSON Schema patterns follow, `$` never
matches there. `whole` ends a pattern with a lookahead that refuses the newline in Python and
changes nothing in ECMA-262, so the committed documents still say what they said
(`plantbridge.governance` reads the two endings as one).
"""

from __future__ import annotations

END = r"(?!\n)$"


def whole(body: str) -> str:
    """A pattern the whole string must match: `^body$`, without Python's final-newline leeway."""
    return f"^{body}{END}"
