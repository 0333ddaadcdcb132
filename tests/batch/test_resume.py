"""Re-runs: SIGKILL at any moment and resume; unchanged submissions skipped; changed ones re-graded."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_support import grader, grade_json
from make_examples import variant_cells, write_notebook

CLASS = {f"s{i:02d}": v for i, v in enumerate(
    ["correct", "softmax_no_max", "correct", "hinge_includes_correct", "blank", "correct", "delta_rule_sign", "correct", "ce_no_max", "correct"])}
SLOW = "import time\ntime.sleep(0.4)\n"  # so that a kill lands mid-batch


def _committed(gradebook: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _start(course: Path, sub: Path, gradebook: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "--course", str(course), "grade", "unit1",
                             "--submissions", str(sub), "--gradebook", str(gradebook), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_after(proc: subprocess.Popen, gradebook: Path, at_least: int) -> int:
    deadline = time.monotonic() + 60
    while _committed(gradebook) < at_least and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # the grader only; its zygote must notice and clean up by itself
    proc.wait()
    deadline = time.monotonic() + 15
    while _group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_members(proc.pid) == [], "processes of the killed batch are still running"
    return _committed(gradebook)


def _group_members(pgid: int) -> list[int]:
    """Processes still in the killed grader's process group (its zygote, workers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) == pgid:
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture()
def klass(tmp_path):
    sub = tmp_path / "submitted"
    for student, variant in CLASS.items():
        write_notebook(sub / student / "unit1" / "unit1.ipynb", [SLOW] + variant_cells(variant))
    return sub, tmp_path / "gradebook.db"


def test_sigkill_twice_then_resume_grades_everyone_exactly_once(course_root, klass):
    from grader.gradebook import Gradebook

    sub, gradebook = klass
    first = _kill_after(_start(course_root, sub, gradebook), gradebook, 2)
    assert 0 < first < len(CLASS), "the kill did not land mid-batch"
    second = _kill_after(_start(course_root, sub, gradebook), gradebook, first + 2)
    assert second < len(CLASS)
    data = grade_json(grader(course_root, "grade", "unit1", "--submissions", str(sub), "--gradebook", str(gradebook),
                             "--json"))
    assert sorted(data["students"]) == sorted(CLASS)
    with Gradebook(gradebook, readonly=True) as gb:
        assert gb.grading_counts("unit1") == {s: 1 for s in CLASS}
        totals = {g.student: g.score for g in gb.grades("unit1")}
    assert totals["s00"] == 20 and totals["s04"] == 0 and totals["s01"] == 19.5
    # a clean, uninterrupted run agrees with the resumed one
    fresh = grade_json(grader(course_root, "grade", "unit1", "--submissions", str(sub), "--gradebook",
                              str(gradebook.with_name("fresh.db")), "--json"))
    assert fresh == data


def test_rerun_skips_unchanged_and_regrades_changed(course_root, klass):
    from grader.gradebook import Gradebook

    sub, gradebook = klass
    args = ("grade", "unit1", "--submissions", str(sub), "--gradebook", str(gradebook), "--json")
    grade_json(grader(course_root, *args))
    proc = grader(course_root, *args)
    assert f"graded 0, unchanged and skipped {len(CLASS)}" in proc.stderr
    write_notebook(sub / "s01" / "unit1" / "unit1.ipynb", variant_cells("correct"))
    proc = grader(course_root, *args)
    assert grade_json(proc)["students"]["s01"]["total"] == 20
    assert f"graded 1, unchanged and skipped {len(CLASS) - 1}" in proc.stderr
    proc = grader(course_root, *args, "--force", "--student", "s02")
    assert "graded 1, unchanged and skipped 0" in proc.stderr
    assert list(grade_json(proc)["students"]) == ["s02"]
    with Gradebook(gradebook, readonly=True) as gb:
        counts = gb.grading_counts("unit1")
    assert counts["s01"] == 2 and counts["s02"] == 2 and counts["s03"] == 1


def test_export_matches_the_batch(course_root, klass, tmp_path):
    import csv
    import io
    import json

    sub, gradebook = klass
    data = grade_json(grader(course_root, "grade", "unit1", "--submissions", str(sub), "--gradebook", str(gradebook),
                             "--json", "--csv", str(tmp_path / "grades.csv")))
    exported = grader(course_root, "export", "unit1", "--format", "csv", "--gradebook", str(gradebook))
    assert exported.stdout == (tmp_path / "grades.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert {r["student_id"]: float(r["total"]) for r in rows} == {s: v["total"] for s, v in data["students"].items()}
    full = json.loads(grader(course_root, "export", "unit1", "--format", "json", "--gradebook", str(gradebook)).stdout)
    assert full["students"]["s01"]["exercises"]["softmax"]["checks"][0]["name"]
    assert full["students"]["s01"]["status"] == "graded"
