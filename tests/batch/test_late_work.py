"""Late work end to end: nbgrader's timestamp.txt, course.toml's deadline and [late] rule, through
`grader grade` into the gradebook, the summary and every export; a new timestamp.txt or rule is applied
on the next run without grading again."""
from __future__ import annotations

import csv
import io
import json
import shutil

from batch_support import ROOT, grader, grade_json, make_course

REFERENCE = ROOT / "examples" / "submitted" / "ada" / "unit1" / "unit1.ipynb"   # full marks: 20 / 20
STAMPS = {
    "late2d": "2026-10-16 10:00:00.000000 Europe/Berlin",   # 08:00 UTC, 33 h after 22:59 UTC: 2 started days
    "nostamp": None,                                         # no timestamp.txt: on time, with a note
    "refused": "2026-10-30 12:00:00+00:00",                  # zip_collect's format; over 7 days late
}
LATE = ('[late]\ngrace = "15m"\npenalty = 0.1\nper = "day"\nmax_penalty = 0.3\nnot_accepted_after = "7d"\n')


def test_late_work_through_grade_and_export(tmp_path):
    course = make_course(tmp_path / "course")
    toml = course / "course.toml"
    text = toml.read_text(encoding="utf-8").replace("schema_version = 1", "schema_version = 2\n" + LATE, 1)
    toml.write_text(text.replace('id = "unit1"', 'id = "unit1"\ndeadline = 2026-10-14T23:59:00+01:00', 1))
    sub = tmp_path / "submitted"
    for student, stamp in STAMPS.items():
        folder = sub / student / "unit1"
        folder.mkdir(parents=True)
        shutil.copy(REFERENCE, folder / "unit1.ipynb")
        if stamp:
            (folder / "timestamp.txt").write_text(stamp + "\n")
    book = str(tmp_path / "gradebook.db")

    first = grader(course, "grade", "unit1", "--submissions", str(sub), "--gradebook", book, "--json", "--workers", "2")
    data = grade_json(first)["students"]
    assert {s: (v["total"], v["penalty"]) for s, v in data.items()} == {
        "late2d": (16.0, 4.0), "nostamp": (20.0, 0.0), "refused": (0.0, 20.0)}
    assert data["late2d"]["submitted_at"] == "2026-10-16T08:00:00+00:00"
    assert data["late2d"]["late_seconds"] == 33 * 3600 + 60
    assert data["nostamp"]["submitted_at"] is None
    summary = " ".join(first.stderr.split())
    assert "late2d: late: handed in 1 d 9 h after the deadline; -4 points" in summary
    assert "nostamp: late: timestamp.txt is missing; counted as on time" in summary
    assert "refused: late: handed in 15 d 13 h after the deadline, later than the course accepts work (7 d): " \
           "no points" in summary

    exported = grader(course, "export", "unit1", "--gradebook", book)
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(exported.stdout))}
    assert list(rows["late2d"])[-4:] == ["submitted_at", "late_hours", "late_penalty", "total"]
    assert (rows["late2d"]["late_hours"], rows["late2d"]["late_penalty"], rows["late2d"]["total"]) == ("33.02", "4", "16")
    full = json.loads(grader(course, "export", "unit1", "--gradebook", book, "--format", "json").stdout)
    assert full["students"]["refused"]["penalty"] == 20 and full["students"]["refused"]["total"] == 0
    assert "late work: timestamp.txt is missing; counted as on time" in full["students"]["nostamp"]["notes"]

    # a new timestamp.txt alone: nobody is graded again, and the penalty follows it
    (sub / "late2d" / "unit1" / "timestamp.txt").write_text("2026-10-14 23:10:00.000000 UTC\n")   # within grace
    (sub / "nostamp" / "unit1" / "timestamp.txt").write_text("2026-10-15 01:00:00 UTC\n")          # 1 started day
    second = grader(course, "grade", "unit1", "--submissions", str(sub), "--gradebook", book, "--json")
    assert "graded 0, unchanged and skipped 3" in second.stderr
    data = grade_json(second)["students"]
    assert {s: (v["total"], v["late_seconds"]) for s, v in data.items()} == {
        "late2d": (20.0, 0.0), "nostamp": (18.0, 7260.0), "refused": (0.0, 15 * 86400 + 13 * 3600 + 60)}
    full = json.loads(grader(course, "export", "unit1", "--gradebook", book, "--format", "json").stdout)
    assert not [n for n in full["students"]["nostamp"]["notes"] if n.startswith("late work")]   # note replaced

    # a changed rule in course.toml: re-priced on the next run, still without grading again
    toml.write_text(toml.read_text().replace("penalty = 0.1\n", "penalty = 0.25\n"))
    third = grader(course, "grade", "unit1", "--submissions", str(sub), "--gradebook", book, "--json")
    assert "graded 0, unchanged and skipped 3" in third.stderr
    assert grade_json(third)["students"]["nostamp"]["total"] == 15.0
