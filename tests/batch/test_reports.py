"""What instructors and students read: progress, summary, CSV and feedback pages (golden text)."""
from __future__ import annotations

import io

from grader.config import load_course
from grader.gradebook.export import csv_text, summary_json
from grader.gradebook.store import StoredCheck, StoredExercise, StoredGrade
from grader.report.feedback_html import render_feedback
from grader.report.progress import Progress, format_bar, format_line
from grader.report.summary import render_summary, summarize

from batch_support import ROOT

COURSE = load_course(ROOT)
UNIT = COURSE.unit("unit1")


def _grade(student: str, softmax: float, status: str = "graded", error: str | None = None) -> StoredGrade:
    exercises = {ex.name: StoredExercise(ex.name, ex.points, ex.points) for ex in UNIT.exercises}
    exercises["softmax"] = StoredExercise("softmax", softmax, 2.0, None, [
        StoredCheck("shape (4, 7)", softmax == 2.0, "got <script>alert(1)</script>, expected 0.5")])
    score = sum(e.score for e in exercises.values())
    return StoredGrade("unit1", student, status, score, 20.0, error, ["cell 3 raised <b>"], "sha256:abc", "sha256:d",
                       "2026-11-25T12:00:00+00:00", "0.1.0", exercises)


def test_progress_bar_at_fixed_width():
    assert format_bar(45, 200, 15.0, failed=2, width=60) == \
        "[#####------------------]  45/200  3.0/s  ETA 0:52  2 failed"
    assert format_bar(0, 10, 0.0, width=40) == "[-----------------]  0/10  -/s  ETA -:--"
    assert format_line(50, 200, 10.0) == "graded 50/200 (25%), 5.0/s, ETA 0:30"


def test_progress_writes_plain_lines_when_not_a_tty():
    out = io.StringIO()
    progress = Progress(3, stream=out, tty=False, interval=1000)
    for _ in range(3):
        progress.advance()
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graded 3/3 (100%)") and "\r" not in out.getvalue()


def test_progress_redraws_on_a_tty():
    out = io.StringIO()
    progress = Progress(2, stream=out, tty=True, width=50)
    progress.start()
    progress.advance(failed=True)
    progress.finish()
    assert out.getvalue().count("\r") == 2 and "1 failed" in out.getvalue()


class _Report:
    unit, sandbox, students, skipped_names, aborted, seconds = "unit1", "sandbox: x", ["a", "b", "c"], [], None, 1.0
    identical = [["a", "c"]]

    def count(self, status: str) -> int:
        return {"graded": 2, "skipped": 1}.get(status, 0)


def test_summary_table():
    grades = [_grade("a", 2.0), _grade("b", 1.0), _grade("c", 0.0, "ungradable", "unit1.ipynb is not UTF-8")]
    text = render_summary(summarize(_Report(), grades, UNIT))
    assert text.splitlines()[0] == ("unit1: 3 students; graded 2, unchanged and skipped 1, could not be graded 1, "
                                    "grader errors 0  (1.0 s)")
    assert "  softmax                       2    1.00    1.00           1" in text
    assert "  c: not graded: unit1.ipynb is not UTF-8" in text
    assert "identical submissions: a, c" in text
    assert "  a              20/20       10/10  graded" in text   # one line per student
    assert "  c              18/20        9/10  not graded" in text


def test_summary_lists_what_needs_attention():
    grades = [_grade("a", 2.0), _grade("b", 1.0), _grade("c", 0.0, "grader_error", "the zygote died")]
    grades[0].notes = ["work.ipynb, cell 2: not run: did not finish within 2 s",
                       "`softmax` is defined in a.ipynb and a-Copy1.ipynb; the one in a-Copy1.ipynb was graded "
                       "(in a.ipynb it is the unfinished stub)", "cell 3 raised <b>"]
    grades[1].notes = ["b.ipynb is not a readable notebook: invalid JSON at line 1, column 1; skipped"]
    text = render_summary(summarize(_Report(), grades, UNIT))
    attention = text.split("needs attention:\n")[1].split("identical submissions")[0]
    assert attention == (
        "  a: hung cell: work.ipynb, cell 2: not run: did not finish within 2 s\n"
        "  a: copies: `softmax` is defined in a.ipynb and a-Copy1.ipynb; the one in a-Copy1.ipynb\n"
        "      was graded (in a.ipynb it is the unfinished stub)\n"
        "  b: unreadable file: b.ipynb is not a readable notebook: invalid JSON at line 1, column\n"
        "      1; skipped\n"
        "  c: grader error: the zygote died\n")


def test_csv_leaves_grader_errors_blank():
    text = csv_text([_grade("a", 2.0), _grade("b", 0.0, "grader_error", "zygote died")], UNIT)
    assert text.split("\r\n")[:3] == [
        "student_id,perceptron_forward,delta_rule_update,logistic_regression_step,softmax,softmax_cross_entropy,"
        "multiclass_hinge_loss,least_squares,squared_hinge_loss,Autoencoder,reconstruction_scores,total",
        "a,2,1,2,2,3,3,2,2,2,1,20", "b,,,,,,,,,,,"]


def test_json_shape():
    data = summary_json([_grade("a", 1.5)], UNIT)
    assert data["unit"] == "unit1"
    assert data["students"]["a"]["total"] == 19.5 and data["students"]["a"]["max_total"] == 20
    assert data["students"]["a"]["exercises"]["softmax"] == {"score": 1.5, "max_score": 2.0, "error": None}


def test_feedback_is_self_contained_and_escaped():
    page = render_feedback(_grade("a", 0.0), UNIT, course_name="DNN")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "cell 3 raised &lt;b&gt;" in page
    assert "http" not in page.replace("http-equiv", "")  # no external assets
    assert "softmax: 0 / 2" in page and "18 / 20" in page


def test_a_quiz_that_counts_has_its_own_row():
    unit = COURSE.unit("unit2")
    exercises = {ex.name: StoredExercise(ex.name, ex.points, ex.points) for ex in unit.exercises}
    quizzed = StoredGrade("unit2", "a", "graded", 10.0, 10.0, None, [], "h", "s", "t", "v", exercises,
                          quiz={"score": 4.0, "max_score": 10.0})
    plain = StoredGrade("unit2", "b", "graded", 10.0, 10.0, None, [], "h", "s", "t", "v", exercises)
    summary = summarize(_Report(), [quizzed, plain], unit)
    quiz = next(e for e in summary.exercises if e.name == "quiz")
    assert (quiz.max_score, quiz.mean, quiz.full) == (10, 2.0, 0)
    assert summarize(_Report(), [quizzed], UNIT).exercises[-1].name != "quiz"   # unit1's quiz is practice
