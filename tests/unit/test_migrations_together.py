"""Processes that start together on one SQLite file (granian workers of one service) all come up:
one applies the migrations, the others find nothing left to do. Before the lock, the second of
two workers failed at start on "duplicate column name" about one start in eight."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from gateway.app import VERSIONS_DIR
from gateway.store import metadata


def _migrate(url: str, start: Barrier) -> None:
    from contracts.kit import migrations

    start.wait()
    migrations.upgrade(url, VERSIONS_DIR, metadata)


def test_eight_processes_migrating_one_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    for attempt in range(3):  # each round is a fresh, empty database
        url = f"sqlite+aiosqlite:///{tmp_path / f'gateway-{attempt}.db'}"
        context = multiprocessing.get_context("fork")
        start = context.Barrier(8)
        workers = [context.Process(target=_migrate, args=(url, start)) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [worker.exitcode for worker in workers] == [0] * 8
