"""Schemathesis 4 (CLI, every check) against a running service process (or a server's base URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from plantbridge.processes import ServiceProcess
from tests.support.http import auth_headers

ROOT = Path(__file__).resolve().parents[2]
# Cases per operation and phase. CI keeps the suite within its time budget with the default; a
# deeper run: PLANTBRIDGE_CONTRACT_EXAMPLES=200 make test
EXAMPLES = int(os.environ.get("PLANTBRIDGE_CONTRACT_EXAMPLES", "15"))


def run_schemathesis(
    service: ServiceProcess | str,
    api_path: str,
    *,
    scopes: Sequence[str],
    max_examples: int = EXAMPLES,
    seed: int = 1,
    claims: Mapping[str, Any] | None = None,
) -> None:
    """Fail the calling test with schemathesis's own report when any check fails."""
    args = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{service if isinstance(service, str) else service.url}{api_path}/schema/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
    ]
    for name, value in auth_headers(scopes, claims=claims).items():
        args += ["-H", f"{name}: {value}"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        f"schemathesis found failures:\n{result.stdout[-12000:]}\n{result.stderr[-3000:]}"
    )
