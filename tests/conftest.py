"""Two lanes, chosen by what a test uses rather than by where it lives.

The shared fixtures are in tests/support/fixtures.py. A test that starts processes (through
`launch`, `spawn` or `plantbridge_cli`, directly or via any fixture built on them) is marked
`e2e`; a test that touches PostgreSQL (the `postgres` fixture, or a parameter named "postgres",
as `backend` and `BACKENDS` give) is marked `postgres`. `make test-fast` runs everything else:
in-process apps over real SQLite files and a real Redis, and pure unit tests. Nothing to mark
by hand, so a new test lands in the right lane by using the fixture it needs.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.support.fixtures"]

PROCESS_FIXTURES = frozenset({"launch", "spawn", "plantbridge_cli"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & PROCESS_FIXTURES:
            item.add_marker(pytest.mark.e2e)
        callspec = getattr(item, "callspec", None)
        parameters = callspec.params.values() if callspec is not None else ()
        if "postgres" in used or any(value == "postgres" for value in parameters):
            item.add_marker(pytest.mark.postgres)
