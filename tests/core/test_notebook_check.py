"""check() in a real IPython shell (and a real kernel where jupyter_client is installed).

It gives `grader check`'s verdict for the code the kernel has run, and leaves nothing
trusted in the kernel: no reference, no check spec, no expected value that a later cell
could reach. The expected values searched for are computed here, in the test process.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import COURSE, ROOT, write_notebook
from notebook_kernel import PROBE, Kernel, Shell, kernel_available

from grader.notebook.remote import answer_safely
from grader.results import CheckResult, ExerciseResult, UnitResult
from grader.runner.wire import Array

REFERENCE = (ROOT / "solutions" / "unit1" / "shallow.py").read_text()
NO_MAX = "def softmax(z, dim=-1):\n    e = z.exp()\n    return e / e.sum(dim=dim, keepdim=True)"
SOLUTIONS = ROOT / "solutions"
SOLUTION_STEMS = {path.stem for path in SOLUTIONS.glob("*/*.py")}
# what check() may import into the kernel: the course file reader, the results and their renderers
KERNEL_MODULES = {"grader", "grader.config", "grader.errors", "grader.late", "grader.notebook", "grader.notebook.inline",
                  "grader.results", "grader.report", "grader.report.html", "grader.report.safe",
                  "grader.report.text", "grader.quiz", "grader.quiz.check", "grader.quiz.errors"}
STATE = ("import json as _json, sys as _sys\n"
         "print(_json.dumps({'modules': sorted(_sys.modules), 'files': sorted(str(getattr(m, '__file__', '') or '') "
         "for m in list(_sys.modules.values()))}))")
CHECK = 'from grader import check\nreport = check("softmax")\nreport'
PASSED = "PASS softmax  2/2  (8/8 checks)"
KINDS = ["shell", pytest.param("kernel", marks=pytest.mark.skipif(
    not kernel_available(), reason="a real kernel needs jupyter_client and ipykernel, not test dependencies"))]


def open_kernel(kind, tmp_path, course=ROOT, **extra_env):
    folder = tmp_path / "unit1"
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRADER_COURSE": str(course), **extra_env}
    return Shell(folder, env) if kind == "shell" else Kernel(folder, env, tmp_path / "jupyter")


def ran(kernel, code):
    """Run a cell that must not raise; its reply."""
    reply = kernel.run(code)
    assert reply["error"] is None, reply
    return reply


def expected_outputs(exercise="softmax"):
    """Every array of every public case's expected output, computed in this process."""
    from grader.checking import plan_unit

    plan = plan_unit(COURSE, COURSE.unit("unit1"), device="cpu", only=[exercise])
    leaves = []

    def walk(value):
        if isinstance(value, Array):
            leaves.append(value.data)
        elif isinstance(value, torch.Tensor):
            leaves.append(value.detach().cpu().numpy())
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    for case in plan.cases[exercise]:
        walk(case.expected)
    assert leaves
    return leaves


def found_in(arrays, expected):
    return [a for a in arrays if a.shape == expected.shape and a.dtype.kind == expected.dtype.kind
            and np.allclose(a, expected, rtol=1e-6, atol=0, equal_nan=True)]


def trusted_traces(kernel, tmp_path, expected):
    """What of the trusted side a later cell of this kernel can reach (all empty when nothing)."""
    state = json.loads(ran(kernel, STATE)["stdout"])
    modules = set(state["modules"])
    ran(kernel, PROBE)
    ran(kernel, "import numpy as _np, torch as _torch\n"  # controls: a tensor, and an array inside a list
                "_controls = {'t': _torch.full((2, 3), 0.125), 'a': [_np.full((3,), 0.375)]}")
    npz = tmp_path / f"arrays{len(list(tmp_path.glob('arrays*')))}.npz"
    functions = json.loads(ran(kernel, f"import json\nprint(json.dumps(_probe({str(npz)!r}, {str(SOLUTIONS)!r})))")
                           ["stdout"])
    with np.load(npz, allow_pickle=False) as data:
        arrays = [data[key] for key in data.files]
    assert found_in(arrays, np.full((2, 3), 0.125, np.float32)) and found_in(arrays, np.full((3,), 0.375))
    return {
        "grader modules beyond the renderers": sorted(m for m in modules if m.split(".")[0] == "grader"
                                                      and m not in KERNEL_MODULES),
        "course modules": sorted(m for m in modules if m.startswith("_grader_course")),
        "modules named after solutions": sorted(modules & SOLUTION_STEMS),
        "files from solutions/": [f for f in state["files"] if f.startswith(str(SOLUTIONS))],
        "reference functions": functions,
        "expected outputs": [e.shape for e in expected if found_in(arrays, e)],
    }


@pytest.mark.parametrize("kind", KINDS)
def test_check_leaves_no_reference_and_no_expected_value_in_the_kernel(kind, tmp_path):
    expected = expected_outputs()
    kernel = open_kernel(kind, tmp_path)
    try:
        ran(kernel, "import torch")
        ran(kernel, REFERENCE)
        report = ran(kernel, 'from grader import check\ncheck("softmax")')
        assert "PASS softmax  2/2  (8/8 checks)" in report["result"]
        traces = trusted_traces(kernel, tmp_path, expected)
        assert traces == {key: [] for key in traces}
        # the search would have seen them: what the old in-kernel check() left behind is found
        ran(kernel, "from grader.checking import plan_unit\nfrom grader.config import load_course\n"
                    "course = load_course()\nplan = plan_unit(course, course.unit('unit1'), only=['softmax'])")
        traces = trusted_traces(kernel, tmp_path, expected)
        assert "_grader_course.unit1.shallow" in traces["course modules"]
        assert "_grader_course.unit1.shallow.softmax" in traces["reference functions"]
        assert len(traces["expected outputs"]) == len(expected)
    finally:
        kernel.close()


def _build_release(out):
    from grader.release.build import build_release

    build_release(COURSE, out, units=["unit1"])
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_check_in_a_student_release_leaves_no_expected_value_in_the_kernel(kind, tmp_path):
    release = _build_release(tmp_path / "release")
    assert not (release / "solutions").exists()
    expected = expected_outputs()
    kernel = open_kernel(kind, tmp_path, course=release)
    try:
        ran(kernel, "import torch")
        ran(kernel, REFERENCE)
        ran(kernel, NO_MAX)
        report = ran(kernel, 'from grader import check\nreport = check("softmax")\nreport')
        assert "FAIL softmax" in report["result"] and "subtract the max" in report["result"]
        traces = trusted_traces(kernel, tmp_path, expected)
        assert traces == {key: [] for key in traces}
        in_release = json.loads(ran(kernel, "import json\nprint(json.dumps(report.result.to_json()))")["stdout"])
    finally:
        kernel.close()
    kernel = open_kernel(kind, tmp_path / "instructor")
    try:
        ran(kernel, REFERENCE)
        ran(kernel, NO_MAX)
        ran(kernel, 'from grader import check\nreport = check("softmax")')
        in_course = json.loads(ran(kernel, "import json\nprint(json.dumps(report.result.to_json()))")["stdout"])
    finally:
        kernel.close()
    assert in_release["exercises"] == in_course["exercises"]


def test_check_cell_gives_the_command_line_verdict_for_the_cells_it_needs(tmp_path):
    cells = ["import torch\n%matplotlib --list", REFERENCE,
             "def softmax(z, dim=-1):\n    return z\nx = 1 / 0",   # defines softmax, then raises: kept
             NO_MAX, "y = 1 / 0\nprint('a training loop')"]          # defines nothing checked: skipped
    kernel = open_kernel("shell", tmp_path)
    try:
        for cell in cells:
            kernel.run(cell)
        report = ran(kernel, 'from grader import check\nreport = check("softmax", "perceptron_forward")\nreport')
        shown = json.loads(ran(kernel, "import json\nprint(json.dumps([report._repr_html_(), report.result.to_json()]))")
                           ["stdout"])
    finally:
        kernel.close()
    html, in_kernel = shown
    notebook = write_notebook(tmp_path / "same_cells.ipynb", cells)
    run = subprocess.run([sys.executable, "-m", "grader", "check", "unit1", "softmax", "perceptron_forward",
                          "--path", str(notebook), "--json"], capture_output=True, text=True, timeout=300)
    on_command_line = json.loads(run.stdout)
    assert in_kernel["exercises"] == on_command_line["exercises"]
    assert (in_kernel["score"], in_kernel["max_score"]) == (on_command_line["score"], on_command_line["max_score"])
    assert [n for n in on_command_line["notes"] if "cell 5" in n] != []   # the skipped cell fails when run
    assert in_kernel["notes"] == [n.replace("same_cells.ipynb, cell 3", "kernel input [3]")
                                  for n in on_command_line["notes"] if "cell 5" not in n] + [
        "skipped 1 cell that defines nothing checked: In [5]"]
    assert "ZeroDivisionError" in in_kernel["notes"][0]
    assert "FAIL softmax" in report["result"] and "subtract the max" in report["result"]
    assert "PASS perceptron_forward  2/2  (12/12 checks)" in report["result"]
    assert "<table>" in html and "logits of magnitude 1000" in html
    assert "skipped 1 cell that defines nothing checked: In [5]" in html


def test_check_imports_neither_torch_nor_numpy_into_the_kernel(tmp_path):
    kernel = open_kernel("shell", tmp_path)
    # the student's folder is the kernel's; the grader's process never imports from it
    (tmp_path / "unit1" / "numpy.py").write_text("raise ImportError('the student numpy.py was imported')\n")
    try:
        report = ran(kernel, 'from grader import check\ncheck("softmax")')
        state = json.loads(ran(kernel, STATE)["stdout"])
    finally:
        kernel.close()
    assert "FAIL softmax" in report["result"] and "`softmax` is not defined" in report["result"]
    assert not {"torch", "numpy"} & set(state["modules"])


def test_a_broken_grader_process_is_one_line(tmp_path):
    broken = tmp_path / "course"
    broken.mkdir()
    (broken / "course.toml").write_text((ROOT / "course.toml").read_text().replace("schema_version = 1",
                                                                                   "schema_version = 99"))
    kernel = open_kernel("shell", tmp_path)
    try:
        missing = ran(kernel, f'import os\nos.environ["GRADER_COURSE"] = {str(tmp_path)!r}\n'
                              'from grader import check\ncheck("softmax")')
        bad_course = ran(kernel, f'os.environ["GRADER_COURSE"] = {str(broken)!r}\ncheck("softmax")')
        dead = ran(kernel, f'os.environ["GRADER_COURSE"] = {str(ROOT)!r}\nos.environ["PYTHONHOME"] = "/nowhere"\n'
                           'check("softmax")')
        del_home = ran(kernel, 'del os.environ["PYTHONHOME"]\ncheck("nosuchexercise")')
    finally:
        kernel.close()
    assert missing["stdout"] == f"grader: error: GRADER_COURSE={tmp_path} holds no course.toml\n"
    assert bad_course["stdout"].startswith(f"grader: error: {broken / 'course.toml'}: schema_version is 99")
    assert dead["stdout"].startswith("grader: error: the grader's checking process exited with code 1 without a "
                                     "result: ")
    assert dead["stdout"].count("\n") == 1
    assert del_home["stdout"] == ("grader: error: no exercise in unit1 'nosuchexercise'\n"
                                  "  hint: try `grader list unit1`\n")
    for reply in (missing, bad_course, dead, del_home):
        assert reply["result"] is None and "Traceback" not in reply["stdout"] + reply["stderr"]


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = [int(c) for c in (task / "children").read_text().split()] if (task / "children").exists() else []
            found.extend(children)
            todo.extend(children)
    return found


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_an_interrupted_check_stops_its_grader_process_and_worker(tmp_path):
    kernel = open_kernel("shell", tmp_path)
    seen = []

    sent, state = [], []

    def interrupt():  # as Jupyter's interrupt button: SIGINT to the kernel alone, once the check is under way
        deadline = time.monotonic() + 120
        while len(_descendants(kernel.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)   # the grader's process and its worker: the check is running (a loaded machine is slow)
        time.sleep(1.0)
        seen.extend(_descendants(kernel.proc.pid))
        state.extend(line for line in Path(f"/proc/{kernel.proc.pid}/status").read_text().splitlines()
                     if line.startswith(("SigBlk", "SigIgn", "SigCgt")))
        sent.append(time.monotonic())
        kernel.proc.send_signal(signal.SIGINT)

    try:
        ran(kernel, "def softmax(z, dim=-1):\n    import time\n    time.sleep(60)")  # each check would take 10 s
        timer = threading.Thread(target=interrupt)
        timer.start()
        interrupted = kernel.run('from grader import check\ncheck("softmax")')
        elapsed = time.monotonic() - sent[0] if sent else None
        timer.join()
        time.sleep(0.5)
        left = [pid for pid in seen if _alive(pid)]
    finally:
        kernel.close()
    assert interrupted["error"] == "KeyboardInterrupt: " and elapsed is not None and elapsed < 15, (interrupted, seen, state)
    assert len(seen) >= 2  # the grader's process and its worker
    assert left == []


def test_check_outside_ipython_prints_the_text_report(tmp_path):
    folder = tmp_path / "unit1"
    folder.mkdir()
    (folder / "answers.py").write_text(REFERENCE + "\n\nfrom grader import check\nprint('returned', check('softmax'))\n")
    run = subprocess.run([sys.executable, "-c", "import runpy, sys\nrunpy.run_path('answers.py')\n"
                          "print('checking imported:', 'grader.checking' in sys.modules)"],
                         cwd=folder, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GRADER_COURSE": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("unit1: 2 / 2 points  (device: cpu)\nPASS softmax  2/2  (8/8 checks)\n")
    assert run.stdout.endswith("returned None\nchecking imported: False\n")


def test_a_result_crosses_processes_with_its_scores():
    result = UnitResult("unit1", notes=["a note"], exercises={"softmax": ExerciseResult("softmax", 2.0, [
        CheckResult("a", True, "ok", weight=0.05), CheckResult("b", False, "got 1, expected 2", weight=3.0, hint="h")])})
    again = UnitResult.from_json(json.loads(json.dumps(result.to_json(weights=True))))
    assert again.to_json(weights=True) == result.to_json(weights=True)
    assert again.score == result.score == round(2 * 0.05 / 3.05, 4)


def test_a_request_the_trusted_side_cannot_read_is_an_error_reply():
    assert answer_safely(b'{"version": 0}')["error"].startswith("error: the notebook sent a request this grader")
    reply = answer_safely(json.dumps({"version": 1, "course": str(ROOT), "cwd": "/", "unit": None,
                                      "exercises": [3], "device": "cpu", "cells": None, "path": None}).encode())
    assert reply == {"version": 1, "error": 'error: exercises are named by strings\n  hint: check("softmax")',
                     "exit_code": 2}


# ------------------------------------------------ the warm helper: one per kernel, reused, replaced, gone with it
REAL = "kernel" if kernel_available() else "shell"   # the slower tests run once, in a real kernel where there is one


def warm(kernel):
    """What the helper reported with the last check: its pid, its zygote's, checks served, cells kept and skipped."""
    return json.loads(ran(kernel, "import json\nprint(json.dumps(report.warm))")["stdout"])


def eventually(condition, within=30.0):
    """Wait until condition() holds (or `within` seconds have passed); its last value."""
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def gone(pids, within=30.0):
    """Wait until none of the pids is alive; True when all are gone."""
    return eventually(lambda: not any(_alive(pid) for pid in pids), within)


@pytest.mark.parametrize("kind", KINDS)
def test_later_checks_reuse_the_warm_helper_and_leave_nothing_trusted_in_the_kernel(kind, tmp_path):
    expected = expected_outputs()
    kernel = open_kernel(kind, tmp_path)
    try:
        ran(kernel, "import torch")
        ran(kernel, REFERENCE)
        seen = []
        for _ in range(4):
            assert PASSED in ran(kernel, CHECK)["result"]
            seen.append(warm(kernel))
        traces = trusted_traces(kernel, tmp_path, expected)
    finally:
        kernel.close()
    assert [w["checks"] for w in seen] == [1, 2, 3, 4]
    assert len({w["helper_pid"] for w in seen}) == 1
    # the first check runs in a fresh process; the zygote started after it serves the others
    assert [w["warm"] for w in seen] == [False, True, True, True]
    assert seen[1]["zygote_pid"] and len({w["zygote_pid"] for w in seen[1:]}) == 1
    assert [w["zygotes_started"] for w in seen] == [0, 1, 1, 1]
    assert traces == {key: [] for key in traces}


def test_a_training_cell_is_skipped_and_named(tmp_path):
    kernel = open_kernel(REAL, tmp_path)
    try:
        ran(kernel, "import torch")
        ran(kernel, REFERENCE)
        # 12 s: more than a cell may take in the worker (check_timeout = 10 s), so running it again would fail
        ran(kernel, "import time\nlosses = []\nfor epoch in range(3):\n    time.sleep(4)\n"
                    "    losses.append(softmax(torch.ones(3), dim=0).sum().item())")
        ran(kernel, "print(losses)")
        report = ran(kernel, CHECK)
        figures = warm(kernel)
    finally:
        kernel.close()
    assert PASSED in report["result"]
    assert "note: skipped 2 cells that define nothing checked: In [3], In [4]" in report["result"]
    assert "timed out" not in report["result"] and "In [3]:" not in report["result"]
    assert (figures["kept"], figures["skipped"]) == (2, 2)


def test_a_dead_zygote_or_a_worker_killed_by_the_student_is_replaced(tmp_path):
    kernel = open_kernel(REAL, tmp_path)
    try:
        ran(kernel, REFERENCE)
        checks = []
        for _ in range(2):
            assert PASSED in ran(kernel, CHECK)["result"]
            checks.append(warm(kernel))
        os.kill(checks[-1]["zygote_pid"], signal.SIGKILL)   # killed from outside between two checks
        assert gone([checks[-1]["zygote_pid"]])
        for _ in range(2):
            assert PASSED in ran(kernel, CHECK)["result"]
            checks.append(warm(kernel))
        ran(kernel, "def softmax(z, dim=-1):\n    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)")
        hostile = ran(kernel, CHECK)["result"]
        ran(kernel, REFERENCE)
        assert PASSED in ran(kernel, CHECK)["result"]
        checks.append(warm(kernel))
    finally:
        kernel.close()
    assert len({c["helper_pid"] for c in checks}) == 1
    assert [c["warm"] for c in checks] == [False, True, False, True, True]   # the check that found it dead ran cold
    assert checks[3]["zygote_pid"] != checks[1]["zygote_pid"] and checks[3]["zygotes_started"] == 2
    assert "FAIL softmax" in hostile and "killed" in hostile
    assert (checks[4]["zygote_pid"], checks[4]["zygotes_started"], checks[4]["checks"]) == (
        checks[3]["zygote_pid"], 2, 6)


def test_an_idle_kernel_gives_its_zygote_and_slot_back(tmp_path):
    from grader.runner.sandbox import slots

    kernel = open_kernel("shell", tmp_path, GRADER_CHECK_IDLE="2")
    leasing = os.geteuid() == 0 and bool(slots.existing_slots())
    try:
        ran(kernel, REFERENCE)
        assert PASSED in ran(kernel, CHECK)["result"]
        assert PASSED in ran(kernel, CHECK)["result"]   # served by the zygote started after the first
        first = warm(kernel)
        held = first["helper_pid"] in slots.holders()
        assert first["warm"] and gone([first["zygote_pid"]])   # 2 to 4 s without a check
        released = eventually(lambda: first["helper_pid"] not in slots.holders())   # after its zygote exited
        assert _alive(first["helper_pid"])
        assert PASSED in ran(kernel, CHECK)["result"]
        second = warm(kernel)
    finally:
        kernel.close()
    assert (held, released) == (leasing, True)
    assert second["helper_pid"] == first["helper_pid"] and not second["warm"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_helper_and_its_zygote_die_with_the_kernel(kind, tmp_path):
    kernel = open_kernel(kind, tmp_path)
    try:
        ran(kernel, REFERENCE)
        for _ in range(2):
            assert PASSED in ran(kernel, CHECK)["result"]
        figures = warm(kernel)
        assert _alive(figures["helper_pid"]) and _alive(figures["zygote_pid"])
        kernel.kill()
        assert gone([figures["helper_pid"], figures["zygote_pid"]])
    finally:
        kernel.close()
