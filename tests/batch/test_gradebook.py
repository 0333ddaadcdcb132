"""The gradebook file: recognised, migrated, refused when foreign or damaged, never overwritten."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from grader.gradebook import APPLICATION_ID, LATEST, Gradebook, GradebookError
from grader.gradebook import schema
from grader.results import CheckResult, ExerciseResult, UnitResult


def _result(score_ok: bool = True) -> UnitResult:
    result = UnitResult(unit="unit1", notes=["a note"])
    ex = ExerciseResult("softmax", 2.0, [CheckResult("shape (4, 7)", score_ok, "passed" if score_ok else "got 1"),
                                         CheckResult("dim=0", False, "got <b>, expected 2", 1.0, "use dim")])
    result.exercises["softmax"] = ex
    return result


def test_new_gradebook_is_versioned_and_marked_as_ours(tmp_path):
    path = tmp_path / "gb.db"
    with Gradebook(path) as gb:
        assert gb.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert gb.conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert gb.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_record_round_trip_and_log(tmp_path):
    with Gradebook(tmp_path / "gb.db") as gb:
        gb.record("unit1", "ada", _result(), status="graded", content_hash="sha256:x", spec_hash="sha256:y")
        gb.record("unit1", "ada", _result(False), status="graded", content_hash="sha256:z", spec_hash="sha256:y")
        (grade,) = gb.grades("unit1")
        assert grade.score == 0.0 and grade.content_hash == "sha256:z" and grade.notes == ["a note"]
        assert [c.message for c in grade.exercises["softmax"].checks] == ["got 1", "got <b>, expected 2"]
        assert gb.grading_counts("unit1") == {"ada": 2}


def test_quiz_hook_stores_per_question_results(tmp_path):
    with Gradebook(tmp_path / "gb.db") as gb:
        gb.record("unit1", "ada", _result(), status="graded", content_hash="h", spec_hash="s")
        gb.record_quiz("unit1", "ada", {"score": 1.5, "max_score": 2, "questions": {
            "q1": {"score": 1, "max_score": 1, "message": "correct"},
            "q2": {"score": 0.5, "max_score": 1, "message": "half"}}})
        (grade,) = gb.grades("unit1")
        assert grade.quiz["questions"]["q2"] == {"score": 0.5, "max_score": 1.0, "message": "half"}


def test_a_text_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "gb.db"
    path.write_text("my thesis, do not overwrite\n")
    with pytest.raises(GradebookError, match="not a gradebook"):
        Gradebook(path)
    assert path.read_text() == "my thesis, do not overwrite\n"


def test_another_applications_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(GradebookError, match="another application"):
        Gradebook(path)
    assert path.read_bytes() == before


def test_a_damaged_gradebook_is_refused(tmp_path):
    path = tmp_path / "gb.db"
    with Gradebook(path) as gb:
        for i in range(300):
            gb.record("unit1", f"s{i}", _result(), status="graded", content_hash="h", spec_hash="s")
        gb.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 * 2: 4096 * 4] = b"\xa5" * 8192   # garbage over b-tree pages
    path.write_bytes(bytes(data))
    with pytest.raises(GradebookError, match="damaged"):
        Gradebook(path)
    assert path.read_bytes() == bytes(data)


def test_a_truncated_gradebook_is_refused(tmp_path):
    path = tmp_path / "gb.db"
    with Gradebook(path) as gb:
        for i in range(300):
            gb.record("unit1", f"s{i}", _result(), status="graded", content_hash="h", spec_hash="s")
        gb.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(GradebookError):
        Gradebook(path)


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "gb.db"
    Gradebook(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(GradebookError, match="newer"):
        Gradebook(path)


def test_migration_from_version_1_keeps_grades(tmp_path):
    path = tmp_path / "gb.db"
    conn = schema.connect(path, target=1)
    assert schema.version(conn) == 1
    conn.close()
    with _v1(path) as gb:   # what a version-1 grader wrote: no graded_from, no exercise notes
        gb.conn.execute("INSERT INTO submissions VALUES ('unit1', 'ada', 'graded', 'h', 's', 1.5, 2.0, NULL, '[]',"
                        " 't', 'v', NULL)")
        gb.conn.execute("INSERT INTO exercises VALUES ('unit1', 'ada', 'softmax', 0, 1.5, 2.0, NULL)")
    with Gradebook(path) as gb:  # migrates to LATEST
        assert schema.version(gb.conn) == LATEST
        (grade,) = gb.grades("unit1")
        ex = grade.exercises["softmax"]
        assert (grade.student, ex.score, ex.graded_from, ex.notes) == ("ada", 1.5, None, [])


def test_the_graded_file_and_exercise_notes_reach_the_feedback_page(tmp_path):
    from helpers import COURSE

    from grader.report.feedback_html import render_feedback

    result = _result(False)
    result.exercises["softmax"].graded_from = "losses-Copy1.ipynb"
    result.exercises["softmax"].notes = ["may fail only because `exp_sum`, which it uses, fails its checks"]
    with Gradebook(tmp_path / "gb.db") as gb:
        gb.record("unit1", "ada", result, status="graded", content_hash="h", spec_hash="s")
        (grade,) = gb.grades("unit1")
    ex = grade.exercises["softmax"]
    assert ex.graded_from == "losses-Copy1.ipynb" and ex.notes == result.exercises["softmax"].notes
    page = render_feedback(grade, COURSE.unit("unit1"))
    assert "graded from <code>losses-Copy1.ipynb</code>" in page
    assert "may fail only because <code>exp_sum</code>, which it uses" in page


class _v1(Gradebook):
    """A version-1 gradebook writer (no quiz tables), as an old grader would have been."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = schema.connect(path, target=1)
        self._lock_fd = None

    def _quizzes(self, unit):  # noqa: ANN001, ANN202
        return iter(())


def test_only_one_batch_at_a_time(tmp_path):
    with Gradebook(tmp_path / "gb.db") as first:
        first.lock()
        with Gradebook(tmp_path / "gb.db") as second:
            with pytest.raises(GradebookError, match="another"):
                second.lock()


def test_cli_reports_a_foreign_gradebook_clearly(course_root, tmp_path):
    from batch_support import grader

    path = tmp_path / "gb.db"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (tmp_path / "sub").mkdir()
    proc = grader(course_root, "grade", "unit1", "--submissions", str(tmp_path / "sub"), "--gradebook", str(path))
    assert proc.returncode == GradebookError.exit_code
    assert "is not a gradebook" in proc.stderr and "Traceback" not in proc.stderr
    assert path.read_bytes() == b"\x89PNG\r\n\x1a\n" + b"\0" * 100
