"""The HTML reports as a reader sees them, in headless Chromium: a feedback page, and the table
a notebook's check() cell shows (taken from a real ipykernel).

Asserts on visible text (innerText, hidden elements left out): repeated failures are one row
with "(and N more checks ...)", each hint is shown once, a passing exercise is one line,
backticked code is a monospace <code> with no backticks left, student text stays text, and
the feedback page's strict Content Security Policy holds (no scripts, no violation logged).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chromium import CHROMIUM, Browser  # noqa: E402
from notebook_kernel import Kernel, kernel_available  # noqa: E402

from grader.config import load_course  # noqa: E402
from grader.gradebook.store import StoredCheck, StoredExercise, StoredGrade  # noqa: E402
from grader.report.feedback_html import render_feedback  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
UNIT = load_course(ROOT).unit("unit1")
CSP = "default-src 'none'; style-src 'unsafe-inline'"
HINT = "subtract the max along `dim` before `exp`"
HOSTILE = "got <script>document.title='owned'</script><img src=x onerror=alert(1)>, expected 0.5"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def _grade() -> StoredGrade:
    exercises = {ex.name: StoredExercise(ex.name, ex.points, ex.points,
                                         checks=[StoredCheck(f"case {i}", True, "passed") for i in range(12)])
                 for ex in UNIT.exercises}
    same = f"3 of 12 values differ, largest difference inf at index (1, 2). Hint: {HINT}"
    exercises["softmax"] = StoredExercise("softmax", 0.25, 2.0, None, [
        *[StoredCheck(f"large logits {i}", False, same, hint=HINT) for i in range(5)],
        StoredCheck("shape (4, 7)", False, HOSTILE),
        StoredCheck("uses torch", False, "uses `torch.softmax` (work.ipynb, cell 4, line 3), which this exercise "
                    "does not allow"),
        StoredCheck("small logits", True, "passed")])
    score = sum(e.score for e in exercises.values())
    quiz = {"score": 5.0, "max_score": 10.0, "questions": {
        "softmax_facts": {"score": 0.0, "max_score": 1.0, "message": "incorrect; hint: `exp` of a large logit overflows"},
        "delta_rule": {"score": 1.0, "max_score": 1.0, "message": "correct"}}}
    return StoredGrade("unit1", "s042", "graded", score, 13.0, None, [], "sha256:abc", "sha256:d",
                       "2026-11-25T12:00:00+00:00", "0.1.0", exercises, quiz)


def test_feedback_page_in_a_browser(browser, tmp_path):
    page = tmp_path / "unit1.html"
    page.write_text(render_feedback(_grade(), UNIT, course_name="DNN"), encoding="utf-8")
    seen = browser.visible(page)
    text = seen["text"]

    # the policy the page ships with, unchanged and unviolated; nothing a student wrote runs
    assert seen["csp"] == CSP and seen["violations"] == [] and seen["scripts"] == 0
    assert "<script>document.title='owned'</script><img src=x onerror=alert(1)>" in text

    # five checks with one problem: one row naming the other four, the hint once
    assert "large logits 0 (and 4 more checks with the same problem)\tfail\t3 of 12 values differ, largest " \
           "difference inf at index (1, 2)" in seen["rows"]
    assert not any(f"large logits {i}" in text for i in range(1, 5))
    assert text.count("subtract the max along dim before exp") == 1
    assert "hint: subtract the max along dim before exp" in text.splitlines()

    # a passing exercise is one line, its checks not listed
    assert "pass perceptron_forward: 2 / 2, all 12 checks passed" in text.splitlines()
    assert "case 3" not in text

    # inline code: <code>, monospace, no backticks left on screen
    assert {"torch.softmax", "dim", "exp"} <= set(seen["code"]) and seen["monospace"]
    assert "`" not in text


# float64 where float32 was expected: four checks fail with the same message, one of them with a hint
IN_FLOAT64 = "def softmax(z, dim=-1):\n    e = z.double().exp()\n    return e / e.sum(dim=dim, keepdim=True)"


@pytest.mark.skipif(not kernel_available(), reason="a real kernel needs jupyter_client and ipykernel")
def test_notebook_check_table_in_a_browser(browser, tmp_path):
    """The HTML Jupyter shows for a check cell, from a real kernel, read in the browser."""
    folder = tmp_path / "unit1"
    folder.mkdir()
    kernel = Kernel(folder, {**os.environ, "GRADER_COURSE": str(ROOT)}, tmp_path / "jupyter")
    try:
        for cell in ["import torch", (ROOT / "solutions" / "unit1" / "shallow.py").read_text(), IN_FLOAT64]:
            assert kernel.run(cell)["error"] is None
        reply = kernel.run('from grader import check\ncheck("softmax", "perceptron_forward")')
    finally:
        kernel.close()
    assert reply["error"] is None and reply["html"], reply
    page = tmp_path / "cell.html"   # the cell's output in a page of its own, under the feedback pages' policy
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
                    f"content=\"{CSP}\"></head><body>{reply['html']}</body></html>", encoding="utf-8")
    seen = browser.visible(page)
    text, rows = seen["text"], seen["rows"]

    assert seen["violations"] == [] and seen["scripts"] == 0
    assert text.startswith("unit1: ")
    # perceptron_forward passes: one row, none of its checks
    passing = [r for r in rows if r.startswith("perceptron_forward")]
    assert passing == ["perceptron_forward\tpass\t\t2 / 2 points, 12 of 12 checks passed"]
    # softmax in float64: the dtype failures are one row, the hint is said once
    head = next(r for r in rows if r.startswith("softmax"))
    assert head.startswith("softmax\tfail\t\t") and head.endswith(" of 8 checks passed")
    dtype = [r for r in rows if r.endswith("\tgot dtype float64, expected float32")]
    assert len(dtype) == 1 and re.search(r"\(and [2-9] more checks with the same problem\)", dtype[0]), rows
    assert text.count("got dtype float64") == 1
    hints = [r for r in rows if r.startswith("\thint\t")]
    assert len(hints) == 1 and "subtract the max along dim before exp" in hints[0]
    assert text.count("subtract the max") == 1
