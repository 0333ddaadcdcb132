"""`check()` inside a notebook: the same verdict as `grader check`, shown as a table.

In Jupyter the code checked is what the kernel has run so far (its input
history, replayed in a separate worker process, never in the kernel itself).
Outside IPython the notebooks and .py files of the current folder are checked.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import GraderError, UsageError
from ..results import UnitResult
from .collect import Cell, Submission, collect
from .magics import strip_magics


class CheckReport:
    """A result that renders as HTML in Jupyter and as text elsewhere."""

    def __init__(self, result: UnitResult) -> None:
        self.result = result

    @property
    def passed(self) -> bool:
        return self.result.passed

    def _repr_html_(self) -> str:
        from ..report.html import render_html

        return render_html(self.result)

    def __repr__(self) -> str:
        from ..report.text import render_unit

        return render_unit(self.result, color=False).rstrip()


def check_from_notebook(exercises: tuple[str, ...], *, unit: str | None, path: str | None,
                        device: str) -> CheckReport | None:
    """Check the named exercises (all of the unit when none are named)."""
    if os.environ.get("GRADER_WORKER"):
        return None  # inside a grading worker a check cell does nothing
    from ..quiz.errors import QuizError
    from ..report.safe import one_line, printable
    from ..runner.session import WorkerFailure

    try:
        return _check(exercises, unit, path, device)
    except (GraderError, QuizError) as exc:
        print(f"grader: {printable(exc, newlines=True)}")
    except WorkerFailure as exc:
        print(f"grader: error: {one_line(exc, 400)}")
    except Exception as exc:  # noqa: BLE001  (a grader failure is one line in the notebook, not a traceback)
        if os.environ.get("GRADER_DEBUG"):
            raise
        print(f"grader: internal error: {type(exc).__name__}: {one_line(exc, 500)} "
              "(set GRADER_DEBUG=1 for the traceback)")
    return None


def _check(exercises: tuple[str, ...], unit_id: str | None, path: str | None, device: str) -> CheckReport | None:
    from ..api import check_launcher
    from ..checking import check_submission
    from ..config import load_course

    course = load_course()
    unit = course.unit(unit_id) if unit_id else _infer_unit(course, exercises)
    for name in exercises:
        unit.exercise(name)
    history = _ipython_history()
    if path is None and history is not None:
        submission = Submission(cells=history, files=["this notebook's kernel history"])
    else:
        submission = collect(Path(path) if path else Path.cwd())
    launcher = check_launcher(course, device)
    try:
        result = check_submission(course, unit, submission, launcher=launcher, device=device,
                                  only=list(exercises) or None)
    finally:
        launcher.close()   # gives its sandbox slot back to other graders on this machine
    report = CheckReport(result)
    if history is None:
        print(repr(report))
        return None
    return report


def _infer_unit(course: Any, exercises: tuple[str, ...]) -> Any:
    for unit in course.units:
        if exercises and any(e.name == exercises[0] for e in unit.exercises):
            return unit
    folder = Path.cwd().name
    for unit in course.units:
        if unit.id == folder:
            return unit
    if exercises:
        raise UsageError(f"no unit has an exercise '{exercises[0]}'", "check the spelling, or pass unit=...")
    raise UsageError("cannot tell which unit to check", 'pass it: check(unit="unit1")')


def _ipython_history() -> list[Cell] | None:
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    raw = list(getattr(shell.history_manager, "input_hist_raw", []))[1:-1]  # skip the empty first entry and this cell
    return [Cell(strip_magics(src), f"kernel input [{i}]") for i, src in enumerate(raw, start=1) if src.strip()]
