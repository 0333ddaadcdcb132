"""`grader grade --nbgrader-db PATH`: our trusted scores into nbgrader's gradebook, through nbgrader's API.

nbgrader's autograde runs the test cells in the student's own kernel, where a student can
redefine `check`; `grader grade` runs them in its sandbox and decides every verdict in its
own process. After a batch, each exercise's score is written as the `auto_score` of the
autograder-tests cell `test_<exercise>` (`grader export-nbgrader`) of the student's
submission, so formgrader, manual grading (a manual score still overrides it),
`nbgrader generate_feedback` and `nbgrader export` show the trusted scores.
"""
from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Unit
from ..errors import UsageError

TEST_PREFIX = "test_"


@dataclass
class DbReport:
    """What was written into nbgrader's gradebook."""

    students: int = 0
    scores: int = 0
    notes: list[str] = field(default_factory=list)


def check_db(db: Path, unit: Unit) -> None:
    """A usage error unless nbgrader is installed and `db` is its gradebook holding the unit's assignment."""
    with _open(db) as gb:
        _assignment(gb, db, unit)


def _open(db: Path):  # noqa: ANN202
    try:
        from nbgrader.api import Gradebook
    except ImportError:
        raise UsageError("--nbgrader-db needs nbgrader", 'pip install "dl-grader[nbgrader]"') from None
    if not db.is_file():
        raise UsageError(f"{db} does not exist", "give nbgrader's gradebook.db (in the nbgrader course folder)")
    _alembic_on_path()
    try:
        return Gradebook(f"sqlite:///{db.resolve()}")
    except Exception as exc:  # noqa: BLE001  (sqlalchemy's or alembic's error for a file that is no gradebook)
        raise UsageError(f"{db} is not an nbgrader gradebook: {type(exc).__name__}",
                         "give nbgrader's gradebook.db (in the nbgrader course folder)") from None


def _timestamp(folder: Path) -> dict:
    """nbgrader's submission time from its timestamp.txt (written by `nbgrader collect`), when it is readable."""
    from nbgrader.utils import parse_utc

    try:
        return {"timestamp": parse_utc((folder / "timestamp.txt").read_text(encoding="utf-8").strip())}
    except (OSError, ValueError, UnicodeDecodeError, OverflowError):
        return {}


def _sa_warning() -> type[Warning]:
    try:
        from sqlalchemy.exc import SAWarning
    except ImportError:
        return UserWarning
    return SAWarning


def _alembic_on_path() -> None:
    """nbgrader's Gradebook runs the `alembic` command: find it beside this interpreter (an unactivated venv)."""
    here = os.path.dirname(sys.executable)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")


def _assignment(gb, db: Path, unit: Unit):  # noqa: ANN001, ANN202
    from nbgrader.api import MissingEntry

    try:
        return gb.find_assignment(unit.id)
    except MissingEntry:
        raise UsageError(f"nbgrader's gradebook {db} has no assignment '{unit.id}'",
                         f"run `nbgrader generate_assignment {unit.id}` in the nbgrader course first") from None


def write_scores(db: Path, unit: Unit, grades: list, submissions: Path) -> DbReport:  # noqa: ANN001
    """Write each graded student's exercise scores into nbgrader's gradebook at `db` (the assignment is the unit)."""
    from nbgrader.api import MissingEntry

    report = DbReport()
    with _open(db) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", _sa_warning())   # nbgrader 0.9's own, under SQLAlchemy 2.1
        assignment = _assignment(gb, db, unit)
        cells = {cell.name[len(TEST_PREFIX):]: (nb.name, cell.name, cell.max_score)
                 for nb in assignment.notebooks for cell in nb.grade_cells if cell.name.startswith(TEST_PREFIX)}
        missing = [e.name for e in unit.exercises if e.name not in cells]
        if missing:
            report.notes.append(f"nbgrader's {unit.id} has no test cell for {', '.join(missing)}; not written")
        for grade in grades:
            if grade.status == "grader_error" or not (submissions / grade.student / unit.id).is_dir():
                continue
            gb.update_or_create_student(grade.student)
            try:
                gb.find_submission(unit.id, grade.student)
            except MissingEntry:       # collected but not autograded by nbgrader: add the submission
                gb.add_submission(unit.id, grade.student, **_timestamp(submissions / grade.student / unit.id))
            for name, exercise in grade.exercises.items():
                if name not in cells:
                    continue
                notebook, cell, max_score = cells[name]
                if abs(max_score - exercise.max_score) > 1e-9:
                    report.notes.append(f"{name}: nbgrader's cell is worth {max_score:g} points, course.toml "
                                        f"{exercise.max_score:g}; not written (export and generate again)")
                    continue
                row = gb.find_grade(cell, notebook, unit.id, grade.student)
                row.auto_score = exercise.score
                row.needs_manual_grade = False
                report.scores += 1
            report.students += 1
        gb.db.commit()
    return report
