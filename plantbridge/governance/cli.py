"""`plantbridge contracts ...`: export, check, lint, diff and release the OpenAPI documents."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from plantbridge.governance import documents as docs
from plantbridge.governance.breaking import breaking_changes
from plantbridge.governance.lint import lint


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("contracts", help="committed OpenAPI documents and their governance")
    sub = parser.add_subparsers(dest="contracts_command", required=True)
    export = sub.add_parser("export", help="regenerate contracts/openapi/<service>.v<major>.json")
    export.add_argument("--only", default="", help="comma-separated service names (default: all)")
    sub.add_parser("check", help="fail if a committed document differs from the generated one")
    lint_cmd = sub.add_parser("lint", help="run the governance ruleset over the committed documents")
    lint_cmd.add_argument("--dir", type=Path, default=docs.OPENAPI_DIR)
    diff = sub.add_parser("diff", help="fail on breaking changes against the released documents")
    diff.add_argument("--released", type=Path, default=docs.RELEASED_DIR)
    diff.add_argument("--current", type=Path, default=docs.OPENAPI_DIR)
    release = sub.add_parser("release", help="snapshot committed documents as released (e.g. erp.v1)")
    release.add_argument("names", nargs="+", help="documents to release, as <service>.v<major>")


def run(args: argparse.Namespace) -> int:
    command: str = args.contracts_command
    if command == "export":
        return export({s for s in args.only.split(",") if s} or None)
    if command == "check":
        return check()
    if command == "lint":
        return lint_dir(args.dir)
    if command == "diff":
        return diff(args.released, args.current)
    if command == "release":
        return release(args.names)
    return 2


def _say(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)


def _report_build(build: docs.Build) -> int:
    for name, why in sorted(build.skipped.items()):
        _say(f"{name}: skipped ({why})")
    for name, error in sorted(build.errors.items()):
        _say(f"{name}: cannot build its app: {error}")
    return 1 if build.errors else 0


def export(only: set[str] | None = None) -> int:
    build = docs.build_all(only)
    docs.OPENAPI_DIR.mkdir(parents=True, exist_ok=True)
    for name, document in sorted(build.documents.items()):
        (docs.OPENAPI_DIR / name).write_text(docs.dumps(document), encoding="utf-8")
        _say(f"wrote contracts/openapi/{name}")
    return _report_build(build)


def first_difference(old: Any, new: Any, pointer: str = "") -> str | None:
    """The JSON pointer of the first place two documents differ (None when equal)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            here = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in old or key not in new:
                return here
            found = first_difference(old[key], new[key], here)
            if found is not None:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for index, (a, b) in enumerate(zip(old, new, strict=False)):
            found = first_difference(a, b, f"{pointer}/{index}")
            if found is not None:
                return found
        return None if len(old) == len(new) else f"{pointer}/{min(len(old), len(new))}"
    return None if old == new else (pointer or "/")


def drift(generated: dict[str, dict[str, Any]], folder: Path, broken: set[str]) -> list[str]:
    """Differences between generated documents and the ones committed in `folder`."""
    problems = []
    committed = docs.committed(folder)
    for name, document in sorted(generated.items()):
        path = committed.get(name)
        if path is None:
            problems.append(f"{name}: not committed (run `plantbridge contracts export`)")
        elif path.read_text(encoding="utf-8") != docs.dumps(document):
            where = first_difference(docs.load(path), document) or "(formatting)"
            problems.append(f"{name}: differs from the generated document at {where}")
    for name in sorted(set(committed) - set(generated)):
        if name.split(".", 1)[0] not in broken:
            problems.append(f"{name}: committed but no longer generated")
    return problems


def _asyncapi_drift() -> list[str]:
    if not any(docs.ASYNCAPI_DIR.glob("*.json")):
        return []
    from contracts import asyncapi

    if not asyncapi.DOCUMENT.exists():
        return []
    if docs.load(asyncapi.DOCUMENT) != docs.load_text(docs.dumps(asyncapi.build())):
        where = first_difference(docs.load(asyncapi.DOCUMENT), docs.load_text(docs.dumps(asyncapi.build())))
        return [f"asyncapi/{asyncapi.DOCUMENT.name}: differs from the generated document at {where}"]
    return []


def check() -> int:
    build = docs.build_all()
    problems = drift(build.documents, docs.OPENAPI_DIR, set(build.errors)) + _asyncapi_drift()
    _say(*problems)
    status = _report_build(build)
    if problems:
        return 1
    if not status:
        _say(f"contracts: {len(build.documents)} OpenAPI documents match the committed ones")
    return status


def lint_dir(folder: Path) -> int:
    violations = [
        f"{name}: {v}" for name, path in docs.committed(folder).items() for v in lint(docs.load(path))
    ]
    _say(*violations)
    if not violations:
        _say(f"contracts lint: {len(docs.committed(folder))} documents pass")
    return 1 if violations else 0


def breaking_against(released: Path, current: Path) -> list[str]:
    """Breaking changes of every released document; unreleased versions may change freely."""
    found = []
    present = docs.committed(current)
    for name, path in docs.committed(released).items():
        if name not in present:
            found.append(f"{name}: released but removed (a released major version must stay)")
            continue
        found.extend(
            f"{name}: {message}" for message in breaking_changes(docs.load(path), docs.load(present[name]))
        )
    return found


def diff(released: Path, current: Path) -> int:
    found = breaking_against(released, current)
    _say(*found)
    if not found:
        _say(f"contracts diff: no breaking change against {len(docs.committed(released))} released documents")
    return 1 if found else 0


def release(names: list[str]) -> int:
    present = docs.committed(docs.OPENAPI_DIR)
    wanted = [n if n.endswith(".json") else f"{n}.json" for n in names]
    missing = [n for n in wanted if n not in present]
    if missing:
        _say(f"not committed: {', '.join(missing)}")
        return 1
    found = [f for f in breaking_against(docs.RELEASED_DIR, docs.OPENAPI_DIR) if f.split(":", 1)[0] in wanted]
    if found:
        _say(*found, "refusing to release a breaking change inside a released major version")
        return 1
    docs.RELEASED_DIR.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        shutil.copyfile(present[name], docs.RELEASED_DIR / name)
        _say(f"released contracts/openapi/released/{name}")
    return 0
