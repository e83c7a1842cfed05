"""The import contracts (`.importlinter`, checked by `make lint`) hold for the tree, and each one
fails on a deliberate violation of it: a copy of the tree with one import added is refused."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
PACKAGES = configparser.ConfigParser()
PACKAGES.read(CONFIG)
ROOTS = PACKAGES["importlinter"]["root_packages"].split()
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over `tree` (it puts its working directory first on the import path)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / ".importlinter")],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for package in ROOTS:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIG, tree)
    return tree


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    return copy


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    run = lint_imports(tree)
    assert run.returncode == 0, run.stdout
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(
    ("module", "added", "broken"),
    [
        # the kernel imports the clients built on it (the cycle there was before)
        (
            "contracts/kit/flows/engine.py",
            "import contracts.clients.base",
            "contracts.kit is not allowed to import contracts.clients",
        ),
        # the kernel imports a domain model
        (
            "contracts/kit/paging.py",
            "import contracts.models.erp",
            "contracts.kit is not allowed to import contracts.models",
        ),
        # a module of contracts/ that no layer names
        ("contracts/units.py", "X = 1", "Contracts layers"),
        # one service imports another
        (
            "process_apis/quality/rules.py",
            "import system_apis.qms.domain",
            "process_apis.quality is not allowed to import system_apis.qms",
        ),
        (
            "experience_apis/technician/app.py",
            "import gateway.routing",
            "Services are independent of each other BROKEN",
        ),
        # a service imports the platform's tooling, and contracts a service
        (
            "system_apis/erp/domain.py",
            "import plantbridge.launcher",
            "system_apis is not allowed to import plantbridge",
        ),
        (
            "contracts/tenancy.py",
            "import connectors.webhooks.access",
            "contracts is not allowed to import connectors",
        ),
        # two kernel modules import each other
        ("contracts/kit/db.py", "import contracts.kit.relay", "No cycles are allowed in contracts.kit"),
    ],
)
def test_a_deliberate_violation_fails(tree: Path, module: str, added: str, broken: str) -> None:
    path = tree / module
    path.write_text((path.read_text() if path.exists() else "") + f"\n{added}\n")
    run = lint_imports(tree)
    assert run.returncode == 1, run.stdout
    assert broken in " ".join(run.stdout.split()), run.stdout
