"""The trusted side of the notebook's `check()`: requests in, results out, in a process of its own.

`check()` runs in the student's kernel, where nothing trusted may live. It sends what
it needs to a helper process running this module as JSON objects on stdin. In a kernel
the helper stays (`serve`: one request per line, one reply per line) and keeps a plan and a
sandbox zygote warm between checks (`warm.WarmChecker`); outside IPython one request is
answered by a fresh process (`main`; `python -m grader.notebook.remote` does the same).
Either loads the course, plans the cases (from the references in an instructor course,
from the shipped public data in a release), runs the student's cells in a sandboxed
worker as `grader check` does, and answers with the result. Nothing of the plan goes
back: only the result a student may read, and in `serve` a few process figures ("warm").

    request  {"version": 1, "course": ROOT, "cwd": DIR, "unit": ID | null, "exercises": [NAME, ...],
              "device": "auto", "cells": [[SOURCE, ORIGIN], ...] | null, "path": FILE | null,
              "cases": "hidden"}   (optional: the hidden checks of `grader grade`, instructor course only)
    reply    {"version": 1, "result": UnitResult.to_json(weights=True), "warm": {...}}
             {"version": 1, "error": "error: no unit 'unit9' ...", "exit_code": 2}

`cells` is the kernel's input history; without it, `path` (or else `cwd`) is read as
`grader check --path` would. The reply's error is the text after "grader: ".
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from ..errors import GraderError, GraderFailure, UsageError
from ..results import UnitResult
from .inline import PROTOCOL_VERSION

HISTORY = "this notebook's kernel history"


def serve(parent: int = 0) -> int:
    """Answer one request per line on stdin until it closes, the kernel dies, or an interrupt.

    The warm zygote is stopped (and its slot given back) after `warm.idle_seconds()`
    without a request, and whenever this process ends.
    """
    from .warm import WarmChecker, idle_seconds

    idle = idle_seconds()
    _die_with(parent)
    reply_to = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else this process prints goes to stderr, never into a reply
    checker = WarmChecker()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM too stops the zygote on the way out
    try:
        for raw in _lines(sys.stdin.fileno(), idle, lambda: checker.idle(idle)):
            reply = answer_safely(raw, checker)
            if "result" in reply:
                reply["warm"] = checker.status()
            reply_to.write(json.dumps(reply) + "\n")
            reply_to.flush()
            if reply.get("exit_code") == 130:
                break  # interrupted: the kernel starts a fresh helper for its next check
            checker.warm_up()  # the zygote for the next check starts while the student reads this one
    except KeyboardInterrupt:
        pass
    finally:
        checker.stop()
    return 0


def _lines(fd: int, idle: float, on_idle: Any):  # noqa: ANN202
    """The lines written to `fd`, until it closes; `on_idle()` after every `idle` seconds without one."""
    pending = b""
    while True:
        while b"\n" not in pending:
            while not select.select([fd], [], [], idle)[0]:
                on_idle()
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return
            pending += chunk
        line, pending = pending.split(b"\n", 1)
        if line.strip():
            yield line


def _die_with(parent: int) -> None:
    """Linux: be killed when the kernel dies (its zygote then sees its socket close, and stops its workers),
    and be no process the kernel may trace or read the memory of (it holds the plan between checks)."""
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        from ..runner.sandbox.limits import die_with_parent, not_dumpable

        die_with_parent(parent)
        not_dumpable()
    except (ImportError, OSError, AttributeError):
        pass  # stdin still closes when the kernel dies


def main() -> int:
    """Answer the one request on stdin; the reply is the only thing written to stdout."""
    reply_to = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else this process prints goes to stderr, never into the reply
    reply = answer_safely(sys.stdin.buffer.read())
    reply_to.write(json.dumps(reply) + "\n")
    reply_to.close()  # the notebook has its answer now, not after this interpreter's slow teardown of torch
    return int(reply.get("exit_code", 0))


def answer_safely(raw: bytes, checker: Any = None) -> dict:
    """The reply to a raw request: a result, or an error told in one line (never a traceback)."""
    from ..quiz.errors import QuizError
    from ..report.safe import one_line, printable

    try:
        request = json.loads(raw)
        return {"version": PROTOCOL_VERSION, "result": answer(request, checker).to_json(weights=True)}
    except (GraderError, QuizError) as exc:
        return _error(f"error: {printable(exc, newlines=True)}", exc.exit_code)
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except Exception as exc:  # noqa: BLE001  (a grader failure is one line in the notebook)
        if os.environ.get("GRADER_DEBUG"):
            traceback.print_exception(exc, file=sys.stderr)
        return _error(f"internal error: {type(exc).__name__}: {one_line(exc, 500)} "
                      "(set GRADER_DEBUG=1 for the traceback)", 3)


def _error(text: str, exit_code: int) -> dict:
    return {"version": PROTOCOL_VERSION, "error": text, "exit_code": exit_code}


def answer(request: Any, checker: Any = None) -> UnitResult:
    """Check what the request names, through the same API as `grader check`.

    With a `warm.WarmChecker`, a kernel's cells are checked with its warm plan and zygote,
    and only the cells the exercises need are run.
    """
    from ..api import check_unit
    from ..config import load_course
    from .collect import from_cells

    if not isinstance(request, dict) or request.get("version") != PROTOCOL_VERSION:
        raise GraderFailure(f"the notebook sent a request this grader cannot read (version {PROTOCOL_VERSION} expected)")
    course = load_course(Path(_field(request, "course", str)))
    exercises = _field(request, "exercises", list)
    if not all(isinstance(name, str) for name in exercises):
        raise UsageError("exercises are named by strings", 'check("softmax")')
    cwd = Path(_field(request, "cwd", str))
    unit_id = _field(request, "unit", (str, type(None))) or infer_unit(course, exercises, cwd.name)
    cells = _field(request, "cells", (list, type(None)))
    path = _field(request, "path", (str, type(None)))
    secret = _hidden_secret(course, request.get("cases", "public"))
    submission = None
    if cells is not None:
        if not all(isinstance(c, list) and len(c) == 2 and all(isinstance(s, str) for s in c) for c in cells):
            raise GraderFailure("the notebook sent cells this grader cannot read")
        pairs = [(source, origin) for source, origin in cells]
        if checker is not None:
            return checker.check(course, unit_id, exercises, _field(request, "device", str), pairs, secret=secret)
        submission = from_cells(pairs, HISTORY)
    return check_unit(unit_id, path=Path(path) if path else (None if submission else cwd), course=course,
                      exercises=exercises or None, device=_field(request, "device", str), quiz=False,
                      submission=submission, secret=secret)


def _hidden_secret(course: Any, cases: Any) -> str | None:
    """The course secret when the request asks for the hidden checks (an nbgrader test cell), else None."""
    if cases == "public":
        return None
    if cases != "hidden":
        raise GraderFailure("the notebook's request has no valid 'cases'")
    if course.release is not None:
        raise UsageError("the hidden checks run only in the instructor's course, not in a student release",
                         "nbgrader's autograde finds it through GRADER_COURSE, set in nbgrader_config.py "
                         "(`grader export-nbgrader`)")
    from ..secret import course_secret

    return course_secret(course)


def _field(request: dict, name: str, kind: type | tuple[type, ...]) -> Any:
    value = request.get(name)
    if not isinstance(value, kind):
        raise GraderFailure(f"the notebook's request has no valid '{name}'")
    return value


def infer_unit(course: Any, exercises: list[str], folder: str) -> str:
    """The unit of the first exercise named, else the unit named like the notebook's folder."""
    for unit in course.units:
        if exercises and any(e.name == exercises[0] for e in unit.exercises):
            return unit.id
    for unit in course.units:
        if unit.id == folder:
            return unit.id
    if exercises:
        raise UsageError(f"no unit has an exercise '{exercises[0]}'", "check the spelling, or pass unit=...")
    raise UsageError("cannot tell which unit to check", 'pass it: check(unit="unit1")')


if __name__ == "__main__":
    sys.exit(main())
