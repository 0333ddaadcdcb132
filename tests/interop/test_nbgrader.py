"""The round trip through the real nbgrader: export, generate_assignment, autograde, grade, export.

One unit (unit1) and a small class in nbgrader's submitted/<student>/<assignment>/ layout:
the references, catalogued mistakes, an untouched release notebook, and a student who
replaces `grader.check` in the kernel. nbgrader's autograde scores must equal `grader grade`'s
per exercise for the honest ones; `grader grade --nbgrader-db` then puts the trusted scores into
nbgrader's gradebook, and the real `nbgrader export` and `generate_feedback` show them.
"""
from __future__ import annotations

import ast
import builtins
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))
from batch_support import ROOT, grader, make_course  # noqa: E402

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbgrader")

UNIT, NOTEBOOK = "unit1", "shallow_networks"
CHEAT = '''
import grader
POINTS = {points!r}


class _Full:
    def __init__(self, points):
        self.value = points

    def points(self):
        return self.value


def _check(*names, **options):
    return _Full(sum(POINTS[n] for n in names))


grader.check = _check
'''


def nbgrader(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GRADER_COURSE", None)   # nbgrader_config.py sets it for autograde's kernels
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def self_contained_mistakes(course: Path) -> dict[str, list[str]]:
    """exercise -> the source of each catalogued mistake that needs nothing but torch, renamed to the entry."""
    from grader.config import load_course
    from grader.spec.loader import load_unit_spec

    loaded = load_course(course)
    spec = load_unit_spec(loaded, loaded.unit(UNIT))
    tree = ast.parse((ROOT / "solutions" / UNIT / "mistakes.py").read_text(encoding="utf-8"))
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    found: dict[str, list[str]] = {}
    for name, exercise in spec.exercises.items():
        for mistake in exercise.mistakes:
            for entry, fn in (getattr(mistake, "replace", None) or {}).items():
                node = defs.get(getattr(fn, "__name__", ""))
                if node is None:
                    continue
                bound = {a.arg for a in node.args.args} | {n.id for n in ast.walk(node)
                                                           if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                free = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                if free - bound - set(dir(builtins)) - {"torch"}:
                    continue
                node = ast.parse(ast.unparse(node)).body[0]
                node.name = entry   # type: ignore[attr-defined]
                found.setdefault(name, []).append(ast.unparse(node))
    return found


def submission(release: Path, source: Path, replace: dict[str, str], prepend: str = "") -> str:
    """The released notebook with solution cells taken from the source (references) or given."""
    nb = nbformat.read(release, as_version=4)
    reference = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            grade_id = meta["grade_id"]
            cell.source = replace.get(grade_id, reference[grade_id])
    if prepend:
        first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        first.source = prepend + "\n" + first.source
    return nbformat.writes(nb)


def test_round_trip_through_real_nbgrader(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    (course / "exercises").symlink_to(ROOT / "exercises")
    nb_course = tmp_path / "nbgrader"
    proc = grader(course, "export-nbgrader", str(nb_course), "--units", UNIT)
    assert proc.returncode == 0, proc.stderr
    source = nb_course / "source" / UNIT / f"{NOTEBOOK}.ipynb"
    assert f"wrote {source}" in proc.stdout
    nbformat.validate(nbformat.read(source, as_version=4))

    nbgrader(nb_course, "generate_assignment", UNIT)
    release = nb_course / "release" / UNIT / f"{NOTEBOOK}.ipynb"
    text = release.read_text(encoding="utf-8")
    # the released notebook has the public checks and none of the references or hidden checks
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "hidden=True", "z.amax(dim=dim", "nn.Linear(d_in, d_code)",
                   "torch.linalg.solve(Xc.T"):
        assert secret not in text, secret
    assert 'check(\\"softmax\\")' in text and "YOUR CODE HERE" in text
    released = "\n".join(c.source for c in nbformat.read(release, as_version=4).cells)
    solution_lines = [line.strip() for c in nbformat.read(source, as_version=4).cells
                      if c.metadata.get("nbgrader", {}).get("solution")
                      for region in re.findall(r"### BEGIN SOLUTION(.*?)### END SOLUTION", c.source, re.S)
                      for line in region.splitlines() if len(line.strip()) >= 20]
    assert len(solution_lines) >= 30 and not [line for line in solution_lines if line in released]

    from grader.config import load_course

    points = {e.name: e.points for e in load_course(course).unit(UNIT).exercises}
    mistakes = self_contained_mistakes(course)
    assert len(mistakes) >= 4, mistakes
    students = {
        "s01_reference": submission(release, source, {}),
        "s02_mistakes": submission(release, source, {name: found[0] for name, found in mistakes.items()}),
        "s03_starter": release.read_text(encoding="utf-8"),
        "s04_cheater": release.read_text(encoding="utf-8"),
    }
    students["s04_cheater"] = submission(release, release, {}, prepend=CHEAT.format(points=points))
    for student, text in students.items():
        folder = nb_course / "submitted" / student / UNIT
        folder.mkdir(parents=True)
        (folder / f"{NOTEBOOK}.ipynb").write_text(text, encoding="utf-8")
        (folder / "timestamp.txt").write_text("2026-11-30 12:00:00.000000 UTC", encoding="utf-8")

    nbgrader(nb_course, "autograde", UNIT)
    from nbgrader.api import Gradebook

    def nbgrader_scores() -> dict[str, dict[str, float]]:
        with Gradebook(f"sqlite:///{nb_course / 'gradebook.db'}") as gb:
            return {s: {name: gb.find_grade(f"test_{name}", NOTEBOOK, UNIT, s).score for name in points}
                    for s in students}

    autograded = nbgrader_scores()
    # collected after autograde ran: `--nbgrader-db` adds the submission to nbgrader's gradebook itself
    late = nb_course / "submitted" / "s05_not_autograded" / UNIT
    late.mkdir(parents=True)
    (late / f"{NOTEBOOK}.ipynb").write_text(students["s01_reference"], encoding="utf-8")
    (late / "timestamp.txt").write_text("2026-12-01 08:30:00.000000 UTC", encoding="utf-8")
    students["s05_not_autograded"] = students["s01_reference"]
    proc = grader(course, "grade", UNIT, "--submissions", str(nb_course / "submitted"), "--json",
                  "--nbgrader-db", str(nb_course / "gradebook.db"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = {s: {name: e["score"] for name, e in data["exercises"].items()}
            for s, data in json.loads(proc.stdout)["students"].items()}
    assert f"wrote {len(points) * len(students)} scores of {len(students)} students" in proc.stderr

    # nbgrader's autograde (our checks through its cells) and `grader grade` agree on the honest students
    for student in ("s01_reference", "s02_mistakes", "s03_starter"):
        assert autograded[student] == ours[student], student
    assert ours["s01_reference"] == points
    assert all(v == 0 for v in ours["s03_starter"].values())
    wrong = [n for n in mistakes if ours["s02_mistakes"][n] < points[n]]
    assert len(wrong) == len(mistakes), ours["s02_mistakes"]
    assert 0 < sum(ours["s02_mistakes"].values()) < sum(points.values()) or not any(ours["s02_mistakes"].values())
    # the cheater fooled nbgrader's kernel, not the sandbox; the trusted scores replaced nbgrader's
    assert autograded["s04_cheater"] == points
    assert sum(ours["s04_cheater"].values()) == 0
    assert ours["s05_not_autograded"] == points
    assert nbgrader_scores() == ours

    nbgrader(nb_course, "export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {row["student_id"]: float(row["raw_score"]) for row in rows} == {s: sum(ours[s].values()) for s in students}
    assert [row["timestamp"] for row in rows if row["student_id"] == "s05_not_autograded"] == ["2026-12-01 08:30:00"]
    nbgrader(nb_course, "generate_feedback", UNIT)
    page = (nb_course / "feedback" / "s04_cheater" / UNIT / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert f"Score: 0.0 / {float(sum(points.values()))}" in page or "Score: 0 /" in page, page[:3000]


def test_bad_input_is_a_usage_error_and_grades_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from grader.cli import main

    def grader(course: Path, *args: str) -> subprocess.CompletedProcess:   # in this process: no start-up to wait for
        code = main(["--course", str(course), *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    course = make_course(tmp_path / "course")
    (course / "exercises").symlink_to(ROOT / "exercises")
    submitted = tmp_path / "submitted"
    (submitted / "s1" / UNIT).mkdir(parents=True)
    from grader.interop.nbgrader_db import _alembic_on_path
    from nbgrader.api import Gradebook

    _alembic_on_path()
    Gradebook(f"sqlite:///{tmp_path / 'empty.db'}").close()
    (tmp_path / "junk.db").write_text("not a database")
    for db, message in ((tmp_path / "none.db", "none.db does not exist"),
                        (tmp_path / "empty.db", "has no assignment 'unit1'"),
                        (tmp_path / "junk.db", "junk.db is not an nbgrader gradebook")):
        proc = grader(course, "grade", UNIT, "--submissions", str(submitted), "--nbgrader-db", str(db))
        assert proc.returncode == 2 and message in proc.stderr and "hint:" in proc.stderr, proc.stderr
    proc = grader(course, "grade", UNIT, "--submissions", str(submitted), "--public", "--nbgrader-db",
                  str(tmp_path / "empty.db"))
    assert proc.returncode == 2 and "--public" in proc.stderr
    assert not (course / "gradebook.db").exists()   # said before grading anyone

    out = tmp_path / "out"
    (out / "keep.txt").parent.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = grader(course, "export-nbgrader", str(out), "--force")
    assert proc.returncode == 2 and "is not empty" in proc.stderr   # --force only rewrites an earlier export
    assert (out / "keep.txt").read_text() == "mine"
    proc = grader(course, "export-nbgrader", str(tmp_path / "nb"), "--units", "unit9")
    assert proc.returncode == 2 and "unit9" in proc.stderr
