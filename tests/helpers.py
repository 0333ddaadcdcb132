"""Shared helpers for the test suite."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from grader.checking import plan_unit, run_checks
from grader.config import load_course
from grader.notebook.collect import Cell, Submission
from grader.results import UnitResult
from grader.runner.inprocess import InProcessSession

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT)


def check_source(unit_id: str, source: str, exercises: list[str] | None = None,
                 secret: str | None = None) -> UnitResult:
    """Check student source in-process (fast; no isolation): for catalogues of wrong code.

    The source is also the submission's one cell (origin "<student>"), so the
    trusted side's scan for forbidden shortcuts reads it as it would a notebook.
    With a secret, the hidden cases it seeds are run (as `grader grade` runs them), else the public ones.
    """
    source = textwrap.dedent(source)
    namespace: dict = {"__name__": "__student__"}
    exec(compile(source, "<student>", "exec"), namespace)  # noqa: S102
    unit = COURSE.unit(unit_id)
    submission = Submission(cells=[Cell(source, "<student>")])
    plan = None if secret is None else plan_unit(COURSE, unit, device="cpu", only=exercises, secret=secret)
    return run_checks(COURSE, unit, submission, InProcessSession(namespace), device="cpu", only=exercises, plan=plan)


def check_path(unit_id: str, path: Path, exercises: list[str] | None = None, device: str = "cpu") -> UnitResult:
    """Check a notebook, file or folder through a real worker process, as `grader check` does."""
    from grader.api import check_unit

    return check_unit(unit_id, path=path, course=COURSE, exercises=exercises, device=device)


def write_notebook(path: Path, cells: list[str], nbformat: int = 4) -> Path:
    """Write a minimal notebook with these code cells."""
    if nbformat == 3:
        nb = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
              "worksheets": [{"cells": [{"cell_type": "code", "input": c, "language": "python", "outputs": []}
                                        for c in cells]}]}
    else:
        nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
              "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None}
                        for c in cells]}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def fast_course(tmp_path: Path, check_timeout: float = 2.0, memory_mb: int = 4096) -> Path:
    """A copy of the course with short time limits, sharing the real solutions."""
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    text = text.replace("check_timeout = 10.0", f"check_timeout = {check_timeout}")
    text = text.replace("memory_mb = 4096", f"memory_mb = {memory_mb}")
    root = tmp_path / "course"
    root.mkdir()
    (root / "course.toml").write_text(text, encoding="utf-8")
    (root / "solutions").symlink_to(ROOT / "solutions")
    (root / "exercises").symlink_to(ROOT / "exercises")
    return root


def notebook_script(unit_id: str):  # noqa: ANN201
    """The module in scripts/notebooks/ that a unit's starter notebook is built from."""
    import importlib.util

    path = ROOT / "scripts" / "notebooks" / f"{unit_id}.py"
    spec = importlib.util.spec_from_file_location(f"notebook_{unit_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_fails_with(unit_id: str, exercise: str, source: str, hint: str | None, message: str = "") -> None:
    """A wrong implementation must lose points, with this hint and/or this text in a failing check."""
    result = check_source(unit_id, source, [exercise]).exercises[exercise]
    failed = [c for c in result.checks if not c.passed]
    assert failed, "a wrong implementation passed every check"
    assert result.score < result.max_score
    if hint is not None:
        assert any(c.hint and hint in c.hint for c in failed), [c.message for c in failed]
    if message:
        assert any(message in c.message for c in failed), [c.message for c in failed]


def assert_references_pass(unit_id: str, path: Path) -> None:
    """Every check of the unit passes on the references, through a real worker, for full points."""
    result = check_path(unit_id, path)
    failed = [(e.name, c.name, c.message) for e in result.exercises.values() for c in e.checks if not c.passed]
    assert failed == []
    assert result.score == result.max_score == sum(e.points for e in COURSE.unit(unit_id).exercises)


def assert_starter_fails_every_exercise(unit_id: str) -> None:
    """The untouched starter notebook scores zero on every exercise, with no check passing."""
    result = check_path(unit_id, ROOT / "exercises" / unit_id)
    assert set(result.exercises) == {e.name for e in COURSE.unit(unit_id).exercises}
    for exercise in result.exercises.values():
        assert exercise.score == 0, exercise.name
        assert not any(c.passed for c in exercise.checks), exercise.name
