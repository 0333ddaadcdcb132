"""The trusted side keeps every deadline: forged frames, slow cells, hung cells, outside kills, deaf workers.

These run the real worker in sandboxed children forked from one zygote (the batch path).
"""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from grader.runner import wire
from grader.runner.sandbox import SandboxPolicy, ZygoteLauncher
from grader.runner.session import Budgets, Session
from grader.spec import call_inputs

SMALL = Budgets(cell=1.0, load=3.0, submission=60.0, restarts=3)


@pytest.fixture(scope="module")
def launcher():
    launcher = ZygoteLauncher(SandboxPolicy(memory_mb=1024, cpu_seconds=60), workers=1)
    yield launcher
    launcher.close()


def session(launcher, sources: list[str], budgets: Budgets = SMALL) -> Session:
    cells = [{"source": s, "origin": f"nb.ipynb, cell {i + 1}"} for i, s in enumerate(sources)]
    return Session(launcher, cells, budgets=budgets)


def request(case: str = "a case", fn: str = "f", x=None) -> dict:
    x = np.arange(6.0) if x is None else x
    return {"case": case, "driver": "call", "inputs": wire.decode(wire.encode(call_inputs(fn, {"x": x}))),
            "forbidden": [], "device": "cpu", "seed": 0}


DOUBLE = "def f(x):\n    return 2 * x\n"
FORGE = """
from grader.runner import wire
import time
for index in range(2, {n}):
    wire.write_frame(4, wire.encode({{"event": "cell", "index": index}}))
    time.sleep(0.8)
"""


def test_forged_cell_frames_do_not_extend_the_load_budget(launcher):
    n = 40                                     # 40 forged frames, each 0.8 s apart: 32 s if each reset the clock
    s = session(launcher, [DOUBLE, FORGE.format(n=n)] + ["pass"] * (n - 2))
    started = time.monotonic()
    try:
        s.load()
        # A forger claims to be later cells, so the grader cannot tell which cell is to blame; what
        # matters is that the time is bounded (restarts x the load budget), never reset by a frame.
        assert time.monotonic() - started < SMALL.loading + 3
        assert s.failed in ("your cells took more than 3 s to run, twice",
                            "loading your cells took more than 9 s in all (they run again after each crash or timeout)",
                            "your cells stopped the grading worker every time they were run")
        assert s.run(request(), 5).error["kind"] == "not_run"
    finally:
        s.close()


def test_thirty_slow_cells_cost_about_the_load_budget_not_their_sum(launcher):
    slow = "import time\ntime.sleep(0.45)\n"
    s = session(launcher, [DOUBLE] + [slow] * 30)
    started = time.monotonic()
    try:
        s.load()
        seconds = time.monotonic() - started
        assert seconds < 2 * SMALL.load + 3, seconds   # 30 x 0.45 s = 13.5 s if every cell ran
        assert "f" in s.names
        assert sum("took more than 3 s" in (c.error or "") for c in s.cell_reports) > 20
    finally:
        s.close()


def test_hung_cells_restart_at_most_the_cap(launcher):
    hang = "while True:\n    pass\n"
    s = session(launcher, [DOUBLE] + [hang] * 8)
    started = time.monotonic()
    try:
        s.load()
        seconds = time.monotonic() - started
        # 8 hung cells once cost 181 s; now at most `restarts` + 1 of them run
        assert seconds < (SMALL.restarts + 2) * SMALL.cell + 4, seconds
        assert s.restarts == SMALL.restarts + 1
        reasons = [c.error for c in s.cell_reports[1:]]
        assert sum("did not finish within 1 s" in r for r in reasons) == SMALL.restarts + 1
        assert all("restarted 3 times" in r for r in reasons if "did not finish" not in r)
        assert s.run(request(), 5).output is not None
    finally:
        s.close()


def _kill_when_running(s: Session, delay: float) -> threading.Thread:
    """Kill the session's current worker from outside, as another program on the machine might."""
    def kill() -> None:
        time.sleep(delay)
        os.kill(s.handle.pid, signal.SIGKILL)
    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_worker_killed_from_outside_is_retried_not_blamed(launcher):
    slow_double = "import time\ndef f(x):\n    time.sleep(1.5)\n    return 2 * x\n"
    s = session(launcher, [slow_double], Budgets(cell=5, load=10, submission=60))
    try:
        s.load()
        killer = _kill_when_running(s, 0.5)
        result = s.run(request(), 5)
        killer.join()
        assert result.error is None, result.error
        assert np.array_equal(result.output.data, 2 * np.arange(6.0))
        assert s.restarts == 0                 # the retry is not counted against the student
    finally:
        s.close()


def test_a_cell_killed_from_outside_is_run_again(launcher):
    slow = "import time\ntime.sleep(1.5)\n"
    s = session(launcher, [slow, DOUBLE], Budgets(cell=5, load=10, submission=60))
    try:
        s.start()
        killer = _kill_when_running(s, 0.5)
        s.load()
        killer.join()
        assert [c.error for c in s.cell_reports] == [None, None]
        assert "f" in s.names
    finally:
        s.close()


def test_code_that_kills_itself_every_time_is_the_students_result(launcher):
    suicide = "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    s = session(launcher, [suicide])
    try:
        result = s.run(request(), 5)
        assert result.error["kind"] == "crashed"
        assert "was killed" in result.error["message"] and "twice at the same point" in result.error["message"]
    finally:
        s.close()


def test_a_worker_that_stops_reading_times_out_instead_of_blocking_the_grader(launcher):
    deaf = ("import time\nimport grader.runner.wire as w\n"
            "w.FrameReader.read = lambda self, deadline: time.sleep(1000)\n" + DOUBLE)
    s = session(launcher, [deaf])
    big = np.zeros(2_000_000)                 # 16 MB: far more than a pipe holds
    started = time.monotonic()
    try:
        result = s.run(request(x=big), 2)
        assert result.error["kind"] == "timeout"
        assert time.monotonic() - started < 10
    finally:
        s.close()


def test_the_restart_cap_ends_the_session_with_a_reason(launcher):
    s = session(launcher, ["import os\ndef f(x):\n    os._exit(3)\n"], Budgets(cell=2, load=5, submission=60, restarts=2))
    try:
        first = [s.run(request(f"case {i}"), 5) for i in range(3)]
        assert all(r.error["kind"] == "crashed" for r in first)
        later = s.run(request("case 4"), 5)
        assert later.error == {"kind": "not_run", "message": "not run: your code stopped the grading worker 2 times; "
                                                             "the remaining checks were not run"}
    finally:
        s.close()


def test_the_submission_budget_caps_everything(launcher):
    s = session(launcher, ["import time\ndef f(x):\n    time.sleep(100)\n"], Budgets(cell=5, load=5, submission=3))
    started = time.monotonic()
    try:
        results = [s.run(request(f"case {i}"), 10) for i in range(4)]
        assert time.monotonic() - started < 3 + 5
        assert results[-1].error["message"] == "not run: grading your submission took more than 3 s in all"
    finally:
        s.close()


def test_code_too_large_to_send_is_a_result_and_starts_no_worker(launcher):
    huge = "x = '" + "\N{GRINNING FACE}" * (wire.MAX_FRAME // 4 + 1) + "'\n"
    s = session(launcher, [huge])
    result = s.run(request(), 5)
    assert s.handle is None
    assert result.error["kind"] == "not_run" and "MiB of code" in result.error["message"]


def test_a_zygote_killed_from_outside_is_replaced_and_the_check_retried():
    launcher = ZygoteLauncher(SandboxPolicy(memory_mb=1024, cpu_seconds=60), workers=1)
    slow_double = "import time\ndef f(x):\n    time.sleep(1.5)\n    return 2 * x\n"
    s = session(launcher, [slow_double], Budgets(cell=5, load=10, submission=60))
    try:
        s.load()
        threading.Timer(0.5, lambda: os.kill(launcher._proc.pid, signal.SIGKILL)).start()
        result = s.run(request(), 5)
        assert result.error is None, result.error
        assert np.array_equal(result.output.data, 2 * np.arange(6.0))
        assert launcher.restarts == 1
    finally:
        s.close()
        launcher.close()


HOG = """
import os, time
for _ in range(6):
    if os.fork() == 0:
        while True:
            pass
time.sleep(2.0)
"""


def test_a_jobs_whole_tree_shares_one_cpu(launcher):
    s = session(launcher, [HOG, DOUBLE], Budgets(cell=10, load=10, submission=60))
    try:
        s.start()
        if s._cpu() is None:
            pytest.skip("no cgroup CPU accounting here (not root, or no cpu/cpuacct controller)")
        started, cpu = time.monotonic(), s._cpu()
        s.load()
        wall, used = time.monotonic() - started, s._cpu() - cpu
        # six busy processes on a 2-core machine would use both cores; the job's quota is one CPU
        assert used < 1.25 * wall, (used, wall)
        assert "f" in s.names
    finally:
        s.close()


def test_a_check_that_waited_for_the_cpu_is_not_blamed_but_a_busy_loop_is(launcher):
    sleepy = "import time\ndef f(x):\n    time.sleep(1.5)\n    return 2 * x\n"
    busy = "import time\ndef g(x):\n    end = time.time() + 3\n    while time.time() < end:\n        pass\n    return x\n"
    s = session(launcher, [sleepy, busy], Budgets(cell=5, load=10, submission=60))
    try:
        s.load()
        if s._cpu() is None:
            pytest.skip("no cgroup CPU accounting here")
        # the job used almost no CPU in its first second: it was waiting, so it gets its time once more
        assert s.run(request(), 1.0).error is None
        timed_out = s.run(request("busy", fn="g"), 1.0)
        assert timed_out.error["kind"] == "timeout"
    finally:
        s.close()
