"""The export's cells for every unit, and the kernel side of nbgrader's test cells (no nbgrader run here)."""
from __future__ import annotations

import io
import sys
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.errors import GraderFailure, UsageError
from grader.interop.nbgrader_export import checked_exercises, export_nbgrader, autograder_cell
from grader.interop.solutions import fill_stubs, load_references
from grader.notebook import inline, remote

from helpers import COURSE, ROOT

nbformat = pytest.importorskip("nbformat")


def test_every_unit_exports_one_answer_and_one_test_cell_per_exercise(tmp_path: Path) -> None:
    written = export_nbgrader(COURSE, tmp_path / "nb")
    assert {p.parent.name for p in written} == {u.id for u in COURSE.units}
    config = (tmp_path / "nb" / "nbgrader_config.py").read_text()
    assert f"os.environ[\"GRADER_COURSE\"] = {str(COURSE.root)!r}" in config and "c.Execute.timeout = 300" in config
    for unit in COURSE.units:
        cells = [c for p in written if p.parent.name == unit.id for c in nbformat.read(p, as_version=4).cells]
        tests = {c.metadata.nbgrader["grade_id"]: c for c in cells if c.metadata.get("nbgrader", {}).get("grade")}
        assert {k: c.metadata.nbgrader["points"] for k, c in tests.items()} == \
            {f"test_{e.name}": e.points for e in unit.exercises}
        answers = [c for c in cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert len(answers) >= len(unit.exercises) - 1   # a class and its function may share a cell
        for cell in answers:
            assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION") >= 1
            compile(cell.source, cell.id, "exec")
        assert len({c.id for c in cells}) == len(cells)
    again = export_nbgrader(COURSE, tmp_path / "nb", force=True)   # an unchanged course: the same files
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in written]


def test_a_stub_keeps_its_signature_and_docstring_and_gets_the_helpers_it_needs() -> None:
    stub = 'def perceptron_forward(x, w, b, activation="sigmoid"):\n    """Doc."""\n    raise NotImplementedError("x")\n'
    filled, names = fill_stubs(stub, load_references(ROOT / "solutions" / "unit1"), {"torch"})
    assert names == ["perceptron_forward"]
    lines = filled.splitlines()
    assert lines[:2] == stub.splitlines()[:2] and lines[2] == "    ### BEGIN SOLUTION" and lines[-1] == "    ### END SOLUTION"
    assert "    def step(z):" in lines and "    ACTIVATIONS = {" in lines   # module-level helpers, moved inside
    namespace: dict = {}
    exec("import torch\n" + filled, namespace)   # noqa: S102  (the course's own reference)
    import torch

    assert namespace["perceptron_forward"](torch.ones(2), torch.ones(2), 0.0, "step").item() == 1.0
    with pytest.raises(Exception, match="no reference"):
        fill_stubs("def nowhere():\n    raise NotImplementedError\n", {}, set())


def test_only_plain_check_cells_become_test_cells() -> None:
    assert checked_exercises('from grader import check\ncheck("softmax")') == ["softmax"]
    assert checked_exercises('check("a", "b")') == ["a", "b"]
    for other in ('check("softmax"); print(1)', 'check(name)', 'check("x", unit="unit1")', "x = 1", "%%time\ncheck('a')"):
        assert checked_exercises(other) == []
    cell = autograder_cell(["softmax"])
    compile(cell, "test", "exec")
    assert cell.splitlines()[-1].startswith("report.points() if report else 0.0")


def test_hidden_checks_need_the_instructor_course() -> None:
    instructor = SimpleNamespace(release=None, grading=SimpleNamespace(secret_env="DLG_TEST_SECRET"))
    assert remote._hidden_secret(instructor, "public") is None
    with pytest.raises(GraderFailure):
        remote._hidden_secret(instructor, "all of them")
    with pytest.raises(UsageError, match="only in the instructor's course"):
        remote._hidden_secret(SimpleNamespace(release=object()), "hidden")


def test_under_nbgrader_the_grader_says_nothing_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """nbgrader scores a test cell with any stderr output 0 (nbgrader.utils.determine_grade)."""
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    inline._relay(io.BytesIO(b"grader: waiting for a sandbox slot\n"), deque())
    assert out.getvalue() == "grader: waiting for a sandbox slot\n" and err.getvalue() == ""
    monkeypatch.delenv("NBGRADER_EXECUTION")
    inline._relay(io.BytesIO(b"grader: waiting for a sandbox slot\n"), deque())
    assert err.getvalue() == "grader: waiting for a sandbox slot\n"


def test_points_is_the_score_of_the_checked_exercises() -> None:
    from grader.results import CheckResult, ExerciseResult, UnitResult

    result = UnitResult(unit="unit1")
    result.exercises["softmax"] = ExerciseResult("softmax", 2.0, [CheckResult("a", True, ""), CheckResult("b", False, ""),
                                                                  CheckResult("c", True, ""), CheckResult("d", True, "")])
    assert inline.CheckReport(result).points() == 1.5


def test_a_kernel_check_drops_earlier_test_cells_without_naming_them() -> None:
    from grader.notebook.needed import select_cells

    released = autograder_cell(["softmax"]).replace("### BEGIN HIDDEN TESTS\n", "").replace(
        '### END HIDDEN TESTS\n', "").replace('report = check("softmax", hidden=True)', "")
    cells = ["import torch", "def softmax(z, dim=-1):\n    return torch.softmax(z, dim)", released,
             autograder_cell(["softmax"]), "print(softmax(torch.zeros(2)))"]
    selection = select_cells(cells, {"softmax"})
    assert selection.kept == [0, 1] and selection.checks == [2, 3] and selection.skipped == [4]
