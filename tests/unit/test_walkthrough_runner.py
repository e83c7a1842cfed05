"""The walkthrough runner reads the blocks a reader would paste and fails when a block fails or
prints something else than the document says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.walkthroughs import Block, blocks, matches, run

DOC = """# A walkthrough

```sh
X=41
echo "{\\"answer\\": $((X + 1)), \\"id\\": \\"LOT-$RANDOM\\"}"
```

It prints:

```text
{"answer": 42, "id": "LOT-..."}
```

```json
{"not": "run"}
```

```sh
echo "$X"
```
"""


def test_sh_blocks_run_and_a_following_text_block_is_their_output() -> None:
    found = blocks(DOC)
    assert [b.line for b in found] == [3, 18]
    assert found[0].expected == ('{"answer": 42, "id": "LOT-..."}',)
    assert found[1] == Block('echo "$X"\n', 18)


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        ('{"id": "LOT-..."}', '{"id": "LOT-7Q2"}', True),
        ('{"id": "LOT-..."}', '{"id": "LOT-7Q2", "x": 1}', False),
        ("status: ... of ...", "status: 3 of 4", True),
        ("[1.0]", "[1.5]", False),
    ],
)
def test_dots_stand_for_any_text_and_nothing_else_does(expected: str, actual: str, same: bool) -> None:
    assert matches(expected, actual) is same


def test_a_document_that_runs_as_written_passes(tmp_path: Path) -> None:
    doc = tmp_path / "ok.md"
    doc.write_text(DOC)
    run(doc, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, replace={}, timeout=30)


def test_a_block_printing_otherwise_fails_naming_its_line(tmp_path: Path) -> None:
    doc = tmp_path / "wrong.md"
    doc.write_text(DOC.replace("$((X + 1))", "$((X + 2))"))
    with pytest.raises(AssertionError, match="line 3 printed"):
        run(doc, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, replace={}, timeout=30)


def test_a_failing_command_fails_naming_its_block(tmp_path: Path) -> None:
    doc = tmp_path / "broken.md"
    doc.write_text(DOC.replace('echo "$X"', "false"))
    with pytest.raises(AssertionError, match="line 18 failed"):
        run(doc, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, replace={}, timeout=30)
