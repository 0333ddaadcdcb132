"""Graders sharing one machine: two batches and several `grader check`s at once, every grade right.

Before slot leases, starting `grader grade` SIGKILLed every process of every slot user, so the
workers of a batch already running, and every `grader check`, died and their students were
told "out of memory" or "`softmax` is not defined".
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from batch_support import BATCH_SECRET, ROOT, grade_json
from make_examples import FUNCTIONS, VARIANTS, variant_cells, write_notebook

import helpers


def expected_scores(cells: list[str]) -> dict[str, float]:
    """Per-exercise scores from the in-process checker (independent of any worker)."""
    result = helpers.check_source("unit1", "\n\n".join(cells), secret=BATCH_SECRET)
    return {name: ex.score for name, ex in result.exercises.items()}


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """Eight students, each a variant (correct or a known mistake); slow enough to overlap."""
    sub = tmp_path_factory.mktemp("concurrent") / "submitted"
    names = [v for v in VARIANTS if v != "correct"][:7] + ["correct"]
    cells = {}
    for i, variant in enumerate(names):
        student = f"s{i:02d}"
        # a short sleep per student keeps both batches and the checks running at the same time
        cells[student] = variant_cells(variant)
        write_notebook(sub / student / "unit1" / "unit1.ipynb", ["import time\ntime.sleep(0.5)\n"] + cells[student])
    return sub, cells


def _start(course_root, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "--course", str(course_root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(course_root))


def test_two_batches_and_several_checks_at_once_all_grade_right(course_root, klass, tmp_path, sandbox_strong):
    sub, cells = klass
    batches = [_start(course_root, "grade", "unit1", "--submissions", str(sub), "--gradebook",
                      str(tmp_path / f"gb{k}.db"), "--workers", "2", "--json") for k in range(2)]
    time.sleep(1.0)                       # the batches are running when the checks start
    checked = ["s00", "s03", "s07"]
    checks = [_start(course_root, "check", "unit1", "--path", str(sub / s / "unit1"), "--json", "--device", "cpu")
              for s in checked]
    outcomes = []
    for proc in batches + checks:
        out, err = proc.communicate(timeout=300)
        outcomes.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    expected = {s: expected_scores(c) for s, c in cells.items()}
    for proc in outcomes[:2]:
        graded = grade_json(proc)["students"]
        assert set(graded) == set(cells)
        for student, data in graded.items():
            scores = {name: ex["score"] for name, ex in data["exercises"].items()}
            assert scores == expected[student], (student, data)
        assert "-> STRONG" in proc.stderr or not sandbox_strong
    for student, proc in zip(checked, outcomes[2:]):
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        result = json.loads(proc.stdout)
        scores = {name: ex["score"] for name, ex in result["exercises"].items()}
        assert scores == expected[student], (student, proc.stderr[-2000:])
        assert set(scores) == set(FUNCTIONS)


def test_a_check_started_while_a_batch_runs_gets_its_own_slot(course_root, klass, tmp_path):
    sub, cells = klass
    batch = _start(course_root, "grade", "unit1", "--submissions", str(sub), "--gradebook", str(tmp_path / "gb.db"),
                   "--workers", "2", "--json")
    try:
        time.sleep(1.0)
        proc = subprocess.run([sys.executable, "-m", "grader", "--course", str(course_root), "check", "unit1",
                               "--path", str(sub / "s07" / "unit1"), "--json", "--device", "cpu"],
                              capture_output=True, text=True, timeout=300, cwd=str(course_root))
    finally:
        out, err = batch.communicate(timeout=300)
    assert grade_json(subprocess.CompletedProcess(batch.args, batch.returncode, out, err))["students"]["s07"]["total"] == 20
    assert json.loads(proc.stdout)["score"] == 20, proc.stderr[-2000:]
    assert str(ROOT)  # the course is the real one (solutions linked)
