"""LMS grade imports: Canvas, Moodle and Gradescope CSVs against golden files, with a roster and late penalties."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from grader.config import load_course
from grader.gradebook import Gradebook
from grader.gradebook.lms import lms_csv, read_roster
from grader.gradebook.store import StoredExercise, StoredGrade
from grader.results import CheckResult, ExerciseResult, UnitResult

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
UNIT = load_course(ROOT).unit("unit1")


def _grade(student: str, score: float, status: str = "graded", *, late: float = 0.0,
           penalty: float = 0.0) -> StoredGrade:
    exercises = {ex.name: StoredExercise(ex.name, 0.0, ex.points) for ex in UNIT.exercises}
    return StoredGrade("unit1", student, status, score, 20.0, None if status == "graded" else "why", [], "h", "s",
                       "2026-10-20T09:00:00+00:00", "0.1.0", exercises,
                       submitted_at="2026-10-14T21:00:00+00:00" if not late else "2026-10-16T08:00:00+00:00",
                       late_seconds=late, penalty=penalty)


# ada on time; ben 33 h late (-4); chen's grading failed on the grader's side; dana had nothing to grade;
# eve is not in the roster
GRADES = [_grade("ada", 20.0), _grade("ben", 17.5, late=33 * 3600 + 60, penalty=4.0),
          _grade("chen", 0.0, "grader_error"), _grade("dana", 0.0, "ungradable"), _grade("eve", 12.25)]


def assert_golden(name: str, text: str, request: pytest.FixtureRequest) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden") or not path.exists():
        path.write_text(text, encoding="utf-8", newline="")
    assert text == path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("fmt, golden, options", [
    ("canvas", "lms_canvas_unit1.csv", {}),
    ("moodle", "lms_moodle_unit1.csv", {"moodle_id": "email"}),
    ("gradescope-csv", "lms_gradescope_unit1.csv", {}),
])
def test_lms_files_are_golden(fmt, golden, options, request):
    text, missing = lms_csv(fmt, GRADES, UNIT, read_roster(GOLDEN / "lms_roster.csv"), **options)
    assert missing == ["eve"]
    assert_golden(golden, text, request)
    rows = list(csv.reader(io.StringIO(text)))
    by_id = {r[0]: r for r in rows}
    if fmt == "canvas":   # Canvas's gradebook CSV: its five identity columns, then the "Points Possible" row
        assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "unit1: Shallow networks"]
        assert rows[1][0].strip() == "Points Possible" and rows[1][5] == "20"
        assert rows[3] == ["Bitdiddle, Jr., Ben", "10002", "S1002", "bbitdiddle", "DNN-B", "13.5"]   # 17.5 - 4 late
        assert rows[4][5] == "" and rows[6][:3] == ["eve", "", "eve"]   # grader error: blank; eve: her student id
    elif fmt == "moodle":   # Moodle's import maps one identifier column ("Email address") and grade columns
        assert rows[0] == ["Email address", "unit1: Shallow networks", "Feedback: unit1: Shallow networks"]
        assert by_id["ben@uni.example"][1:] == ["13.5", "late: -4 points (handed in 1 d 9 h after the deadline)"]
        assert by_id["dana@uni.example"][1] == "0" and by_id["chen@uni.example"][1] == ""
    else:
        assert rows[0][2] == "SID" and rows[0][-1] == "Lateness (H:M:S)"
        assert rows[2][2:] == ["S1002", "ben@uni.example", "13.5", "20", "Graded", "2026-10-16T08:00:00+00:00",
                               "33:01:00"]


def test_roster_errors(tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("id,email\ns1,a@b\n")
    with pytest.raises(Exception, match="has no student_id column"):
        read_roster(bad)
    bad.write_text("student_id\ns1\ns1\n")
    with pytest.raises(Exception, match="lists student 's1' twice"):
        read_roster(bad)


def test_export_command_with_a_roster(tmp_path):
    book = tmp_path / "gradebook.db"
    with Gradebook(book) as gradebook:
        for student, score in (("ada", 2.0), ("eve", 1.0)):
            result = UnitResult(unit="unit1")
            checks = [CheckResult("a", True, ""), CheckResult("b", score == 2.0, "")]
            result.exercises["softmax"] = ExerciseResult("softmax", 2.0, checks)
            gradebook.record("unit1", student, result, status="graded", content_hash="h", spec_hash="s")
        gradebook.set_lateness("unit1", "ada", "2026-10-15T01:00:00+00:00", 7260.0, 0.5)
    run = subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "export", "unit1", "--format", "canvas",
                          "--gradebook", str(book), "--roster", str(GOLDEN / "lms_roster.csv")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[2:] == ["\"Lovelace, Ada\",10001,S1001,alovelace,DNN-A,1.5", "eve,,eve,,,1"]
    assert "1 graded student(s) not in the roster" in run.stderr and run.stderr.rstrip().endswith("eve")
    wrong = subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "export", "unit1", "--roster", "x.csv",
                            "--gradebook", str(book)], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "--roster and --assignment are for" in wrong.stderr


def test_feedback_page_and_summary_show_the_penalty():
    from grader.report.feedback_html import render_feedback
    from grader.report.summary import needs_attention

    late = GRADES[1]
    page = render_feedback(late, UNIT, course_name="DNN")
    assert "13.5 / 20</b> points" in page and "<td>late penalty</td><td>-4</td>" in page
    assert "handed in 1 d 9 h after the deadline" in page
    assert needs_attention(late) == [("late", "handed in 1 d 9 h after the deadline; -4 points")]
    assert needs_attention(GRADES[0]) == []
