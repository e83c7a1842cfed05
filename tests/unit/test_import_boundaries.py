"""Services never import each other; contracts (schemas and kernel) import no service."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("system_apis", "process_apis", "experience_apis", "connectors")
SERVICE_ROOTS = (*LAYERS, "gateway")


def modules(folder: Path) -> Iterator[Path]:
    yield from (p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def owner(module: str) -> str | None:
    """The service a module belongs to: `system_apis.erp.x` -> `system_apis.erp`, `gateway.y` -> `gateway`."""
    parts = module.split(".")
    if parts[0] == "gateway":
        return "gateway"
    if parts[0] in LAYERS and len(parts) > 1:
        return ".".join(parts[:2])
    return None


def test_services_only_import_themselves_contracts_and_libraries() -> None:
    offences = []
    for root in SERVICE_ROOTS:
        for path in modules(ROOT / root):
            here = owner(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for imported in imports(path):
                there = owner(imported)
                if there is not None and there != here:
                    offences.append(f"{path.relative_to(ROOT)} imports {imported}")
                if imported.split(".")[0] == "plantbridge":
                    offences.append(f"{path.relative_to(ROOT)} imports the platform tooling {imported}")
    assert offences == []


def test_contracts_import_no_service() -> None:
    forbidden = (*SERVICE_ROOTS, "plantbridge", "tests")
    offences = [
        f"{path.relative_to(ROOT)} imports {imported}"
        for path in modules(ROOT / "contracts")
        for imported in imports(path)
        if imported.split(".")[0] in forbidden
    ]
    assert offences == []


def test_the_checker_sees_a_cross_service_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from system_apis.qms import service\nimport gateway.app\n")
    assert owner(next(iter(imports(sample)))) == "system_apis.qms"
    assert {owner(i) for i in imports(sample)} == {"system_apis.qms", "gateway"}
