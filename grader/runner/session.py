"""The trusted side of a worker: budgets, crashes and restarts.

A Session owns one student's worker. Every deadline is kept here, on the grader's clock, and
nothing the worker sends extends one: a cell (`cell`), one load of all the cells (`load`), a
check (the caller's timeout), and everything for the student (`submission`). When a deadline
passes or the worker dies, the session kills the worker's whole tree, records the failure for
that step only, starts a fresh worker and reloads the student's cells (skipping a cell that
hung), at most `restarts` times.

A worker that dies from a signal that may have come from outside (SIGKILL without an OOM
kill, SIGTERM, SIGHUP...) is not blamed at once: the same step is retried in a fresh worker,
and only a second death at the same step counts against the student.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import wire
from .sandbox_api import ExitStatus, Launcher, WorkerHandle

OUTPUT_KEEP = 64 * 1024
STARTUP_TIMEOUT = 120.0
MAX_NAMES = 2000
MAX_NAME_CHARS = 200
MAX_ERROR_CHARS = 1000
# Signals another process (a user, an admin, a careless grader) may send: confirmed before blamed.
OUTSIDE_SIGNALS = {signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM}


@dataclass(frozen=True)
class Budgets:
    """Wall-clock budgets (seconds) and the restart cap for one student's worker."""

    cell: float = 10.0
    load: float = 30.0
    submission: float = 120.0
    restarts: int = 6
    loads: float = 3.0          # all loads of one student (reloads included) get loads x `load`

    @property
    def loading(self) -> float:
        """Seconds all the loads of one student may take together."""
        return self.loads * self.load

    @classmethod
    def from_limits(cls, limits: Any) -> "Budgets":
        """The budgets of course.toml's [limits]."""
        return cls(cell=limits.check_timeout, load=limits.load_timeout, submission=limits.submission_timeout)


@dataclass
class CellReport:
    index: int
    origin: str
    error: str | None


@dataclass
class RunResult:
    output: Any = None
    error: dict | None = None
    forbidden_used: list[str] = field(default_factory=list)
    seconds: float = 0.0


class OutputDrain(threading.Thread):
    """Reads the student's stdout/stderr, keeping only the first bytes."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.kept = bytearray()
        self.total = 0

    def run(self) -> None:
        try:
            while chunk := os.read(self.fd, 1 << 16):
                self.total += len(chunk)
                if len(self.kept) < OUTPUT_KEEP:
                    self.kept += chunk[: OUTPUT_KEEP - len(self.kept)]
        except OSError:
            pass
        finally:
            os.close(self.fd)


def from_outside(status: ExitStatus | None) -> bool:
    """Whether a death may have been caused by another process rather than the student's code."""
    return status is not None and not status.oom_killed and status.signal in OUTSIDE_SIGNALS


class Session:
    """One student's code, loaded in a worker, ready to run cases."""

    def __init__(self, launcher: Launcher, cells: list[dict], *, budgets: Budgets | None = None,
                 cell_timeout: float | None = None, slot: int = 0) -> None:
        budgets = budgets or Budgets()
        if cell_timeout is not None:
            budgets = Budgets(cell=cell_timeout, load=budgets.load, submission=budgets.submission,
                              restarts=budgets.restarts)
        self.launcher = launcher
        self.cells = cells
        self.budgets = budgets
        self.cell_timeout = budgets.cell
        self.slot = slot
        self.skip: dict[int, str] = {}
        self.cell_reports: list[CellReport] = []
        self.names: list[str] = []
        self.restarts = 0
        self.failed: str | None = None     # set when no more workers will be started
        self.handle: WorkerHandle | None = None
        self.drains: list[OutputDrain] = []
        self.to_worker: int | None = None
        self.reader: wire.FrameReader | None = None
        self._loaded = False
        self._final = False                # the last load attempt: everything after it fails
        self._overruns = 0                 # loads that ran out of their budget
        self._load_spent = 0.0             # seconds spent loading, over every attempt
        self._suspect: tuple[str, Any] | None = None   # a step whose worker died from a signal once
        self._deadline: float | None = None            # the submission's budget, from the first start
        self._load_frame = self._encode_load()

    # -- worker lifecycle -------------------------------------------------
    def _encode_load(self) -> bytes | None:
        try:
            return wire.encode({"op": "load", "cells": self.cells, "skip": []})
        except wire.WireError:
            size = sum(len(c.get("source", "")) for c in self.cells)
            self.failed = (f"your notebooks and .py files hold {size / 2**20:.1f} MiB of code, more than the "
                           f"grader can send to its worker ({wire.MAX_FRAME // 2**20} MiB)")
            return None

    def _spawn(self) -> None:
        if self.failed:
            return
        frame = self._load_frame if not self.skip else wire.encode(
            {"op": "load", "cells": self.cells, "skip": [[i, r] for i, r in sorted(self.skip.items())]})
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self.handle = self.launcher.start(in_fd=to_r, out_fd=from_w, output_fd=out_w, slot=self.slot)
        except BaseException:
            for fd in (to_w, from_r, out_r):
                os.close(fd)
            raise
        finally:
            for fd in (to_r, from_w, out_w):
                os.close(fd)
        self.to_worker = to_w
        self.reader = wire.FrameReader(from_r)
        drain = OutputDrain(out_r)
        drain.start()
        self.drains.append(drain)
        if self._deadline is None:
            self._deadline = time.monotonic() + self.budgets.submission
        # the worker reads the load frame before any student code runs
        if not self._send(frame, time.monotonic() + STARTUP_TIMEOUT):
            self._kill()
            raise WorkerFailure("the grading worker did not read its cells")

    def _send(self, frame: bytes, deadline: float | None) -> bool:
        """Write a frame to the worker; False when it died or did not read it by the deadline."""
        try:
            wire.write_frame(self.to_worker, frame, deadline)
            return True
        except (OSError, TimeoutError):   # BrokenPipeError: the worker died mid-write
            return False

    def start(self) -> None:
        """Start the worker and send it the cells (returns at once)."""
        if self.handle is None:
            self._spawn()

    def _kill(self) -> None:
        if self.handle is not None:
            self.handle.kill()
            self.handle = None
        for fd in (self.to_worker, self.reader.fd if self.reader else None):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.to_worker = None
        self.reader = None
        self._loaded = False

    def close(self) -> None:
        """Stop the worker and its whole process tree."""
        if self.handle is not None:
            self._send(wire.encode({"op": "exit"}), time.monotonic() + 0.5)
            self.handle.wait(0.5)
        self._kill()

    def student_output(self) -> tuple[bytes, int]:
        """The first bytes the student's code printed, and how many it printed in all."""
        kept = b"".join(bytes(d.kept) for d in self.drains)
        return kept[:OUTPUT_KEEP], sum(d.total for d in self.drains)

    def left(self) -> float:
        """Seconds left of the submission's budget (the whole budget before the first start)."""
        if self._deadline is None:
            return self.budgets.submission
        return self._deadline - time.monotonic()

    def _out_of_time(self) -> bool:
        if self.left() > 0:
            return False
        self._kill()
        self.failed = f"grading your submission took more than {self.budgets.submission:g} s in all"
        return True

    # -- loading ----------------------------------------------------------
    def load(self) -> None:
        """Run the student's cells in a worker; skip cells that hang or crash it. Never raises for the student."""
        while not self._loaded and not self.failed:
            if self._out_of_time():
                return
            if self.handle is None:
                self._spawn()
                if self.failed:
                    return
            self._load_once()

    def _load_once(self) -> None:
        started = time.monotonic()
        try:
            self._load_attempt(started)
        finally:
            self._load_spent += time.monotonic() - started
        if not self._loaded and not self.failed and self._load_spent >= self.budgets.loading:
            self._kill()
            self.failed = (f"loading your cells took more than {self.budgets.loading:g} s in all "
                           "(they run again after each crash or timeout)")

    def _load_attempt(self, started: float) -> None:
        budget_end = started + max(0.0, min(self.budgets.load, self.budgets.loading - self._load_spent, self.left()))
        startup_end = started + STARTUP_TIMEOUT
        current: int | None = None
        next_allowed = 0
        cell_end = budget_end
        while True:
            deadline = startup_end if current is None else min(cell_end, budget_end)
            try:
                frame = self.reader.read(deadline)
            except (EOFError, wire.WireError):
                frame = b""
            if frame is None:
                if current is None:
                    self._kill()
                    raise WorkerFailure(f"the grading worker did not start within {STARTUP_TIMEOUT:g} s")
                if time.monotonic() >= budget_end and cell_end > budget_end:
                    return self._over_budget(current)
                return self._cell_failed(current, f"did not finish within {self.cell_timeout:g} s")
            if frame == b"":
                return self._worker_died(current)
            event = _decode(frame)
            kind = event.get("event") if isinstance(event, dict) else None
            if kind == "cell" and current is None and not self._valid_cell(event, next_allowed):
                self._kill()
                raise WorkerFailure("the grading worker sent a malformed first message")
            if kind == "cell" and self._valid_cell(event, next_allowed):
                current = event["index"]
                next_allowed = current + 1
                cell_end = time.monotonic() + self.cell_timeout
            elif kind == "loaded" and self._take_loaded(event):
                return
            elif current is None:
                self._kill()
                raise WorkerFailure("the grading worker sent a malformed first message")
            else:
                return self._cell_failed(current, "it wrote into the grader's result pipe")

    def _valid_cell(self, event: dict, next_allowed: int) -> bool:
        index = event.get("index")
        return (type(index) is int and next_allowed <= index < len(self.cells) and index not in self.skip)

    def _take_loaded(self, event: dict) -> bool:
        """Accept the worker's report of the load (errors per cell, defined names) if it is well formed."""
        cells, names = event.get("cells"), event.get("names")
        if not isinstance(cells, list) or not isinstance(names, list):
            return False
        errors: dict[int, str] = {}
        for item in cells[: len(self.cells)]:
            if isinstance(item, dict) and type(item.get("index")) is int and isinstance(item.get("error"), str):
                errors[item["index"]] = item["error"][:MAX_ERROR_CHARS]
        self.cell_reports = [
            CellReport(i, str(cell.get("origin", f"cell {i}")),
                       f"not run: {self.skip[i]}" if i in self.skip else errors.get(i))
            for i, cell in enumerate(self.cells)]
        self.names = [n[:MAX_NAME_CHARS] for n in names[:MAX_NAMES] if isinstance(n, str)]
        self._loaded = True
        self._suspect = None if self._suspect and self._suspect[0] == "cell" else self._suspect
        return True

    def _count_restart(self) -> bool:
        """Count one restart caused by the student's code; False once the cap is passed."""
        self.restarts += 1
        return self.restarts <= self.budgets.restarts

    def _after_run_failure(self) -> None:
        if not self._count_restart():
            self.failed = (f"your code stopped the grading worker {self.budgets.restarts} times; "
                           "the remaining checks were not run")

    def _cell_failed(self, index: int, reason: str) -> None:
        """The student's cell `index` hung or crashed: skip it and let load() start again."""
        self._kill()
        self.skip[index] = reason
        self._after_load_failure(index)

    def _over_budget(self, index: int) -> None:
        """Loading ran out of its budget at cell `index` (as far as the worker says): skip the rest, once."""
        self._kill()
        self._overruns += 1
        if self._overruns > 1:     # the cells before it overran too: a worker that lies about its progress
            self.failed = f"your cells took more than {self.budgets.load:g} s to run, twice"
            return
        reason = f"your cells took more than {self.budgets.load:g} s to run in all; this and later cells were not run"
        for i in range(index, len(self.cells)):
            self.skip.setdefault(i, reason)
        self._after_load_failure(index)

    def _after_load_failure(self, index: int) -> None:
        if self._final:
            self.failed = "your cells stopped the grading worker every time they were run"
            return
        if not self._count_restart():
            reason = f"the grading worker was restarted {self.budgets.restarts} times; later cells were not run"
            for i in range(index, len(self.cells)):
                self.skip.setdefault(i, reason)
            self._final = True

    def _worker_died(self, current: int | None) -> None:
        status = self.handle.wait(2) if self.handle else None
        self._kill()
        if current is None:
            raise WorkerFailure("the grading worker did not start" + (f": it {status.describe()}" if status else ""))
        what = status.describe() if status else "stopped"
        if from_outside(status):
            if self._suspect != ("cell", current):
                self._suspect = ("cell", current)     # maybe not the student: run the same cells again
                return
            what += " twice at the same point"
        self._cell_failed(current, f"the process running it {what}")

    # -- running cases ----------------------------------------------------
    def run(self, request: dict, timeout: float) -> RunResult:
        """Send one case; wait at most timeout seconds (of the submission's budget) for its result."""
        self.load()
        if self.failed:
            return RunResult(error={"kind": "not_run", "message": f"not run: {self.failed}"})
        timeout = min(timeout, self.left())
        if timeout <= 0 and self._out_of_time():
            return RunResult(error={"kind": "not_run", "message": f"not run: {self.failed}"})
        started = time.monotonic()
        deadline = started + timeout
        if not self._send(wire.encode({"op": "run", **request}), deadline):
            if self.handle is not None and self.handle.poll() is None:
                return self._timed_out(timeout)       # alive but not reading: as good as a hang
            return self._case_died(request, timeout)
        cpu_start = self._cpu()
        extended = False
        while True:
            try:
                frame = self.reader.read(deadline)
            except EOFError:
                return self._case_died(request, timeout)
            except wire.WireError as exc:
                self._kill()
                self._after_run_failure()
                return RunResult(error={"kind": "crashed", "message": f"sent back a result that cannot be read ({exc})"})
            if frame is not None:
                break
            if not extended and self._starved(cpu_start, timeout):
                extended = True                    # another process had the CPU: give it its time once more
                deadline = time.monotonic() + min(timeout, max(self.left(), 0.0))
                continue
            return self._timed_out(timeout)
        if self._suspect == ("case", request.get("case")):
            self._suspect = None
        event = _decode(frame)
        try:
            return RunResult(output=event["output"], error=_error(event["error"]),
                             forbidden_used=[str(n) for n in event.get("forbidden_used", [])][:64],
                             seconds=time.monotonic() - started)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._kill()
            self._after_run_failure()
            return RunResult(error={"kind": "crashed", "message": f"sent back a malformed result ({exc})"})

    def _timed_out(self, timeout: float) -> RunResult:
        self._kill()
        self._after_run_failure()
        return RunResult(error={"kind": "timeout", "message": f"did not finish within {timeout:g} s (an infinite loop?)"})

    def _cpu(self) -> float | None:
        probe = getattr(self.handle, "cpu_seconds", None)
        return probe() if probe else None

    def _starved(self, cpu_start: float | None, timeout: float) -> bool:
        """The worker's whole tree used under half the check's time as CPU: it waited for the CPU, or slept."""
        now = self._cpu()
        return cpu_start is not None and now is not None and now - cpu_start < 0.5 * timeout and self.left() > 1

    def _case_died(self, request: dict, timeout: float) -> RunResult:
        status = self.handle.wait(2) if self.handle else None
        self._kill()
        case = ("case", request.get("case"))
        what = status.describe() if status else "stopped"
        if from_outside(status):
            if self._suspect != case:
                self._suspect = case              # maybe not the student: run the same case again
                return self.run(request, timeout)
            what += " twice at the same point"
        self._after_run_failure()
        return RunResult(error={"kind": "crashed", "message": f"the process running your code {what}"})


def _decode(frame: bytes) -> Any:
    try:
        return wire.decode(frame)
    except wire.WireError:
        return None


def _error(error: Any) -> dict | None:
    """The worker's error report, kept to a kind and a capped message."""
    if error is None:
        return None
    if not isinstance(error, dict):
        raise TypeError("error is not a dict")
    return {"kind": str(error.get("kind", "raised"))[:32], "message": str(error.get("message", ""))[:MAX_ERROR_CHARS]}


class WorkerFailure(Exception):
    """The worker could not be started at all (a grader problem, not the student's)."""
