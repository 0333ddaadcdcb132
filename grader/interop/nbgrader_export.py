"""`grader export-nbgrader OUT`: the course as an nbgrader course folder.

It writes `OUT/nbgrader_config.py` and `OUT/source/<unit>/<notebook>.ipynb`, one per
starter notebook. Each exercise's stub cell becomes an autograded-answer cell (the
reference's body between `### BEGIN SOLUTION` / `### END SOLUTION`, the starter's signature
and docstring outside them) and its check cell an autograder-tests cell worth the
exercise's points: the public checks run visibly, the hidden checks of `grader grade`
between `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS`, and the cell's last line is the
score, as nbgrader reads it (`nbgrader.utils.determine_grade`). Every check still runs in
the trusted helper process, never in the kernel (docs/interop.md).

The notebooks are read and written with nbformat (v3 starters are upgraded to v4) and
validated before they are written; cell ids are the starter's, so exporting an unchanged
course again gives the same files.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

from ..config import Course, Unit
from ..errors import UsageError
from ..notebook.nbio import write as write_notebook
from .solutions import fill_stubs, load_references, notebook_bindings

SCHEMA_VERSION = 3   # of nbgrader's cell metadata
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# a test cell's autograde may plan the hidden checks and import torch first: nbgrader's 30 s per cell is too short
CELL_TIMEOUT = 300


def export_nbgrader(course: Course, out: Path, *, units: list[str] | None = None, force: bool = False) -> list[Path]:
    """Write the nbgrader course folder; returns the notebooks written."""
    chosen = [course.unit(u) for u in units] if units else list(course.units)
    _prepare(out, force)
    written: list[Path] = []
    for unit in chosen:
        starters = sorted((course.exercises_dir / unit.id).glob("*.ipynb"))
        if not starters:
            raise UsageError(f"no starter notebooks in {course.exercises_dir / unit.id}",
                             "build them first: python scripts/notebooks/<unit>.py")
        for starter in starters:
            path = out / "source" / unit.id / starter.name
            write_notebook(source_notebook(course, unit, starter), path)
            written.append(path)
    (out / "nbgrader_config.py").write_text(config_text(course, [u.id for u in chosen]), encoding="utf-8")
    return written


def _prepare(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder", "give a new folder for the nbgrader course")
    if out.is_dir() and any(out.iterdir()):
        if not force or not (out / "nbgrader_config.py").is_file():
            raise UsageError(f"{out} is not empty", "give a new folder, or --force to rewrite an earlier export "
                             "(its source/ is replaced; release/, submitted/ and the gradebook are kept)")
        shutil.rmtree(out / "source", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def source_notebook(course: Course, unit: Unit, starter: Path):  # noqa: ANN201  (an nbformat NotebookNode)
    """The nbgrader source version of one starter notebook."""
    from ..notebook.nbio import read

    nb = read(starter)     # an nbformat 3 starter upgraded, cell ids added where a 4.4 one has none
    references = load_references(course.root / "solutions" / unit.id)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    known = notebook_bindings(code)
    points = {e.name: e.points for e in unit.exercises}
    graded: list[str] = []
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        names = checked_exercises(cell.source)
        if names:
            unknown = [n for n in names if n not in points]
            if unknown:
                raise UsageError(f"{starter.name} checks {unknown[0]!r}, which is no exercise of {unit.id}")
            cell.source = autograder_cell(names)
            cell.metadata["nbgrader"] = _metadata(f"test_{'_'.join(names)}", grade=True, points=sum(
                points[n] for n in names))
            graded.extend(names)
            continue
        try:
            filled_source, filled = fill_stubs(cell.source, references, known)
        except SyntaxError:   # a cell with magics: kept as it is
            continue
        if filled:
            cell.source = filled_source
            cell.metadata["nbgrader"] = _metadata(filled[0].split(".")[0], solution=True)
    nb.metadata.pop("dl_grader", None)
    return nb


def checked_exercises(source: str) -> list[str]:
    """The exercises a check cell names (`from grader import check` and `check("name")` only), else []."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "grader" and [a.name for a in node.names] == ["check"]:
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"
                and not call.keywords and call.args
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)):
            return []
        names.extend(a.value for a in call.args)  # type: ignore[union-attr]
    return names


def autograder_cell(names: list[str]) -> str:
    """An autograder-tests cell: the hidden checks decide the score where they are (autograde), else the public
    ones run (the released notebook); the score is the last line."""
    args = ", ".join(repr(n).replace("'", '"') for n in names)
    return "\n".join([
        "from grader import check",
        "report = None",
        BEGIN_HIDDEN,
        f"report = check({args}, hidden=True)  # the hidden checks of `grader grade`: they decide the score",
        END_HIDDEN,
        f"report = report or check({args})  # the public checks, as while you work",
        "report.points() if report else 0.0  # the points earned: nbgrader reads this number as the score",
    ])


def _metadata(grade_id: str, *, solution: bool = False, grade: bool = False, points: float = 0) -> dict:
    data = {"grade": grade, "grade_id": grade_id, "locked": grade, "schema_version": SCHEMA_VERSION,
            "solution": solution, "task": False}
    if grade:
        data["points"] = points
    return data


def config_text(course: Course, units: list[str]) -> str:
    """nbgrader_config.py: where autograde's kernels find the instructor course (and so its secret)."""
    return f'''# nbgrader's configuration for the course "{course.name}", written by `grader export-nbgrader`.
# Run nbgrader in this folder: nbgrader generate_assignment {units[0]}, release_assignment, collect, autograde...
import os

c = get_config()  # noqa: F821  (nbgrader's config loader defines it)

# The autograder-tests cells run the hidden checks of `grader grade` (check(..., hidden=True)) in the
# grader's trusted helper process. It needs the instructor's course and its secret: the kernels that
# nbgrader starts inherit this variable. Only the instructor's machine has this file and that course.
os.environ["GRADER_COURSE"] = {str(course.root)!r}

# A test cell's first check plans the hidden cases and imports torch: allow more than nbgrader's 30 s.
c.Execute.timeout = {CELL_TIMEOUT}
'''
