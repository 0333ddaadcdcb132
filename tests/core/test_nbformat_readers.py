"""`grader check`'s fast notebook reader and nbformat agree: the same code cells, in the same order.

Every notebook of the repository (the starters, the test fixtures, the example class) and the
kinds the tests write (nbformat 3, 4.4 without ids, 4.5), each also as `grader release` and
`grader export-nbgrader` write it through nbformat (`grader.notebook.nbio`).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.notebook.collect import read_notebook
from grader.notebook.nbio import reads, writes
from grader.release.build import stamp_notebook

from helpers import ROOT, write_notebook

pytest.importorskip("nbformat")
FILES = sorted(p for folder in ("exercises", "tests", "examples") for p in (ROOT / folder).rglob("*.ipynb"))


def nbformat_code_cells(text: str) -> list[tuple[int, str]]:
    return [(number, cell.source) for number, cell in enumerate(reads(text).cells, start=1)
            if cell.cell_type == "code" and cell.source.strip()]


def test_the_repository_has_notebooks_to_compare() -> None:
    assert len(FILES) >= 10 and {p.parent.parent.name for p in FILES} >= {"exercises", "fixtures"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_both_readers_see_the_same_code_cells(path: Path) -> None:
    text = path.read_text(encoding="utf-8-sig")
    fast, _ = read_notebook(text)
    assert fast == nbformat_code_cells(text)
    rewritten = stamp_notebook(text, "2026.1", "unit1")   # as the release writes it: validated, ids, no outputs
    assert read_notebook(rewritten)[0] == fast
    nb = json.loads(rewritten)
    assert nb["nbformat_minor"] >= 5 and len({c["id"] for c in nb["cells"]}) == len(nb["cells"])


@pytest.mark.parametrize("version", [3, 4])
def test_old_formats_are_upgraded_the_same_way(tmp_path: Path, version: int) -> None:
    cells = ["import torch", "", "def f(x):\n    return x + 1", "%matplotlib inline\ny = f(1)"]
    path = write_notebook(tmp_path / "old.ipynb", cells, nbformat=version)
    if version == 4:   # a 4.4 notebook: no cell ids
        raw = json.loads(path.read_text())
        raw["nbformat_minor"] = 4
        path.write_text(json.dumps(raw))
    text = path.read_text()
    fast, _ = read_notebook(text)
    assert [src for _, src in fast] == [c for c in cells if c]
    assert fast == nbformat_code_cells(text)
    upgraded = reads(text)
    assert [c.id for c in upgraded.cells] == [f"cell-{i:02d}" for i in range(len(cells))]   # stable, not random
    assert writes(upgraded) == writes(reads(text)) and read_notebook(writes(upgraded))[0] == fast
