"""Running the walkthroughs in docs/ as written, the way a reader pastes them into a shell.

Every ```sh block of a walkthrough runs, in order, in one bash session per document (so a
variable set in one block is there in the next), under `set -euo pipefail`. A ```text block that
follows a ```sh block (before the next ```sh block) is what that block prints: line by line,
where `...` in an expected line stands for any text (ids, timestamps).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
END_OF_BLOCK = "@@end-of-block@@"


@dataclass(frozen=True)
class Block:
    code: str
    line: int  # where the block starts in its document
    expected: tuple[str, ...] | None = None  # what it prints, when the document says


def blocks(markdown: str) -> list[Block]:
    found: list[Block] = []
    for fence in FENCE.finditer(markdown):
        language, body = fence.group(1), fence.group(2)
        line = markdown.count("\n", 0, fence.start()) + 1
        if language == "sh":
            found.append(Block(body, line))
        elif language == "text" and found and found[-1].expected is None:
            last = found[-1]
            found[-1] = Block(last.code, last.line, tuple(body.rstrip("\n").split("\n")))
    return found


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.rstrip().split("..."))
    return re.fullmatch(pattern, actual.rstrip()) is not None


def run(document: Path, *, cwd: Path, env: dict[str, str], replace: dict[str, str], timeout: float) -> None:
    """Run every block of `document`; fail naming the block that failed or printed otherwise."""
    found = blocks(document.read_text())
    assert found, f"{document} has no ```sh block"
    script = ["set -euo pipefail"]
    for block in found:
        code = block.code
        for old, new in replace.items():
            code = code.replace(old, new)
        script += [code, f"echo {END_OF_BLOCK}"]
    try:
        result = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        stdout, stderr, failure = result.stdout, result.stderr, f"failed (exit {result.returncode})"
    except subprocess.TimeoutExpired as timed_out:
        stdout, stderr, failure = (
            _text(timed_out.stdout),
            _text(timed_out.stderr),
            f"still ran after {timeout:g}s",
        )
    outputs = stdout.split(f"{END_OF_BLOCK}\n")
    done = len(outputs) - 1  # blocks that ran to their end
    for block, output in zip(found[:done], outputs, strict=False):
        if block.expected is None:
            continue
        printed = output.rstrip("\n").split("\n") if output.strip() else []
        same = len(printed) == len(block.expected) and all(
            matches(want, got) for want, got in zip(block.expected, printed, strict=True)
        )
        assert same, (
            f"{document.name}: the block at line {block.line} printed\n"
            + "\n".join(printed)
            + "\ninstead of\n"
            + "\n".join(block.expected)
        )
    if done < len(found):
        failed = found[done]
        raise AssertionError(
            f"{document.name}: the block at line {failed.line} {failure}.\n"
            f"It printed:\n{outputs[-1][-3000:]}\nstderr:\n{stderr[-3000:]}"
        )


def _text(captured: str | bytes | None) -> str:
    return captured.decode(errors="replace") if isinstance(captured, bytes) else captured or ""
