"""`check()` inside a notebook: the same verdict as `grader check`, shown as a table.

The kernel is the student's, so nothing trusted happens in it. `check()` gathers what
the kernel has run so far (its input history), sends it with the unit, the exercises,
the device and the course root to a trusted helper process of its own
(`grader.notebook.remote.serve`), and renders the result that comes back. The helper
stays between checks (it keeps the plan and a sandbox zygote warm, `notebook/warm.py`)
and dies with the kernel; a helper that died, or a kernel whose environment changed,
gets a new one on the next check. The references, the check spec, the expected outputs
and the worker never touch the kernel: it imports only this module, the course-file
reader, the results and their renderers (not torch, not numpy).

Outside IPython the notebooks and .py files of the current folder are checked, and the
text report is printed.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from collections import deque
from typing import IO, Any

from ..errors import GraderError, UsageError
from ..results import UnitResult
from ..report.safe import one_line, printable

# `-c` puts the current folder, the student's, first on sys.path: it is dropped before any import,
# so a student's numpy.py is never imported by the trusted process. The folder this `grader` came
# from is added last, for a kernel that found it through its own sys.path.
_BOOT = ("import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
         "if {home!r} not in sys.path:\n    sys.path.append({home!r})\n"
         "import grader.notebook.remote as remote\nsys.exit(remote.{call})\n")
PROTOCOL_VERSION = 1  # of the request check() sends and the reply it reads (see grader.notebook.remote)
_STDERR_KEPT = 20      # lines of the trusted process's stderr kept for a failure report
_STOP_SECONDS = 10.0   # after an interrupt, how long the trusted process has to stop its worker


class CheckReport:
    """A result that renders as HTML in Jupyter and as text elsewhere."""

    def __init__(self, result: UnitResult, warm: dict | None = None) -> None:
        self.result = result
        self.warm = warm or {}   # the helper's figures: pids, checks served, cells kept and skipped

    @property
    def passed(self) -> bool:
        return self.result.passed

    def points(self) -> float:
        """Show this report and return the points earned (an nbgrader test cell's last line: its score)."""
        shell = _ipython()
        if shell is not None:
            from IPython.display import display  # type: ignore[import-not-found]

            display(self)
        else:
            print(repr(self))
        return float(self.result.score)

    def _repr_html_(self) -> str:
        from ..report.html import render_html

        return render_html(self.result)

    def __repr__(self) -> str:
        from ..report.text import render_unit

        return render_unit(self.result, color=False).rstrip()


def check_from_notebook(exercises: tuple[str, ...], *, unit: str | None, path: str | None,
                        device: str, hidden: bool = False) -> CheckReport | None:
    """Check the named exercises (all of the unit when none are named).

    With `hidden` (an nbgrader autograder-tests cell) a failure to check raises, so that
    nbgrader scores the cell 0 and shows why, instead of printing a line.
    """
    if os.environ.get("GRADER_WORKER"):
        return None  # inside a grading worker a check cell does nothing
    if hidden:
        return _check(exercises, unit, path, device, hidden=True)
    try:
        return _check(exercises, unit, path, device)
    except GraderError as exc:
        print(f"grader: error: {printable(exc, newlines=True)}")
    except Exception as exc:  # noqa: BLE001  (a grader failure is one line in the notebook, not a traceback)
        if os.environ.get("GRADER_DEBUG"):
            raise
        print(f"grader: internal error: {type(exc).__name__}: {one_line(exc, 500)} "
              "(set GRADER_DEBUG=1 for the traceback)")
    return None


def _check(exercises: tuple[str, ...], unit: str | None, path: str | None, device: str,
           hidden: bool = False) -> CheckReport | None:
    from ..config import find_course_root

    if not all(isinstance(name, str) for name in exercises) or not isinstance(unit, (str, type(None))):
        raise UsageError("check() takes the names of exercises", 'check("softmax"), or check(unit="unit1")')
    history = _ipython_history()
    request = {"version": PROTOCOL_VERSION, "course": str(find_course_root()), "cwd": os.getcwd(), "unit": unit,
               "exercises": list(exercises), "device": str(device),
               "cells": history if path is None else None, "path": os.path.abspath(path) if path else None}
    if hidden:
        request["cases"] = "hidden"
    reply = ask_trusted_process(request) if history is None else ask_helper(request)
    if "error" in reply:
        if hidden:
            raise GraderError(printable(reply["error"], newlines=True).removeprefix("error: "))
        print(f"grader: {printable(reply['error'], newlines=True)}")
        return None
    warm = reply.get("warm")
    report = CheckReport(UnitResult.from_json(reply["result"]), warm if isinstance(warm, dict) else None)
    if history is None:
        print(repr(report))
        return None
    return report


def ask_trusted_process(request: dict) -> dict:
    """Send `request` to a fresh `grader.notebook.remote` process and return its reply.

    Its stderr is relayed as it comes when it is the grader's own ("grader: waiting for
    a sandbox slot ..."), and kept for the one line that reports a process that died.
    The reply comes before the process has exited (tearing torch down takes half a
    second): a thread waits for it, unless there is no reply and its exit code says why.
    """
    home = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", _BOOT.format(home=home, call="main()")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    tail: deque[str] = deque(maxlen=_STDERR_KEPT)
    relay = threading.Thread(target=_relay, args=(proc.stderr, tail), daemon=True)
    relay.start()
    try:
        try:
            proc.stdin.write(json.dumps(request).encode("utf-8"))
            proc.stdin.close()
        except BrokenPipeError:  # it died before reading: its exit code and stderr say why
            pass
        out = proc.stdout.read()
    except KeyboardInterrupt:
        _stop(proc)
        raise
    finally:
        proc.stdout.close()
    try:
        reply = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        reply = None
    if isinstance(reply, dict) and ("result" in reply or isinstance(reply.get("error"), str)):
        threading.Thread(target=proc.wait, daemon=True).start()
        return reply
    code = proc.wait()
    relay.join(5)
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    last = f": {one_line(tail[-1], 300)}" if tail else ""
    return {"error": f"error: the grader's checking process {how} without a result{last}", "exit_code": 3}


class _Helper:
    """The kernel's trusted helper process: one JSON request per line in, one reply per line out."""

    def __init__(self) -> None:
        home = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        boot = _BOOT.format(home=home, call=f"serve({os.getpid()})")
        self.env = dict(os.environ)
        # a session of its own: Jupyter interrupts a cell by signalling the kernel's process group, and a
        # training cell's interrupt must not stop the warm helper (a check's interrupt stops it: see ask)
        self.proc = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.tail: deque[str] = deque(maxlen=_STDERR_KEPT)
        assert self.proc.stderr is not None
        self.relay = threading.Thread(target=_relay, args=(self.proc.stderr, self.tail), daemon=True)
        self.relay.start()

    def usable(self) -> bool:
        """Alive, and started with the environment the kernel has now (GRADER_COURSE, PYTHONHOME...)."""
        return self.proc.poll() is None and self.env == dict(os.environ)

    def ask(self, request: dict) -> dict | None:
        """The reply, or None when the helper is gone (then `died()` says why)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            try:
                self.proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                return None
            line = self.proc.stdout.readline()
        except KeyboardInterrupt:
            _stop(self.proc)
            raise
        try:
            reply = json.loads(line.decode("utf-8"))
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def died(self) -> dict:
        """The error reply for a helper that ended without answering."""
        try:
            code = self.proc.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:  # alive but speaking nonsense: stop it
            self.close()
            code = self.proc.wait()
        self.relay.join(5)
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        last = f": {one_line(self.tail[-1], 300)}" if self.tail else ""
        return {"error": f"error: the grader's checking process {how} without a result{last}", "exit_code": 3}

    def close(self) -> None:
        """Closing its stdin ends the helper, which stops its zygote and gives its slot back."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_HELPER: _Helper | None = None
_HELPER_LOCK = threading.Lock()


def ask_helper(request: dict) -> dict:
    """Send `request` to this kernel's helper, starting one when there is none (or it died)."""
    global _HELPER
    with _HELPER_LOCK:
        if _HELPER is not None and not _HELPER.usable():
            _HELPER.close()
            _HELPER = None
        fresh = _HELPER is None
        if _HELPER is None:
            _HELPER = _Helper()
        reply = _HELPER.ask(request)
        if reply is None and not fresh and _HELPER.proc.poll() is not None:  # it died between checks: once more
            _HELPER = _Helper()
            reply = _HELPER.ask(request)
        if isinstance(reply, dict) and ("result" in reply or isinstance(reply.get("error"), str)):
            if reply.get("exit_code") == 130:
                _HELPER = None   # interrupted: it stops; the next check starts a new one
            return reply
        failure, _HELPER = _HELPER.died(), None
        return failure


@atexit.register
def _close_helper() -> None:
    if _HELPER is not None:
        _HELPER.close()


def _relay(stream: IO[bytes], tail: deque[str]) -> None:
    debug = bool(os.environ.get("GRADER_DEBUG"))
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if not line.strip():
            continue
        tail.append(line)
        if debug or line.startswith("grader: "):
            # nbgrader scores a test cell with any stderr output 0 (utils.determine_grade): there, say it on stdout
            out = sys.stdout if os.environ.get("NBGRADER_EXECUTION") else sys.stderr
            print(printable(line), file=out, flush=True)
    stream.close()


def _stop(proc: subprocess.Popen) -> None:
    """Interrupt the trusted process so it stops its worker, then make sure it is gone."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ipython_history() -> list[list[str]] | None:
    """The kernel's input history as [source, origin] pairs (this cell left out); None outside IPython."""
    shell = _ipython()
    if shell is None:
        return None
    raw = list(getattr(shell.history_manager, "input_hist_raw", []))[1:-1]  # the empty first entry, this cell
    return [[src, f"kernel input [{i}]"] for i, src in enumerate(raw, start=1) if isinstance(src, str) and src.strip()]


def _ipython() -> Any:
    if "IPython" not in sys.modules:  # a plain python process: do not import IPython just to ask
        return None
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ImportError:
        return None
    return get_ipython()
