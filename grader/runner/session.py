"""The trusted side of a worker: deadlines, crashes and restarts.

A Session owns one student's worker. Each cell and each case has a wall-clock
deadline; when one passes, or the worker dies, the session kills the worker's
whole tree, records the failure for that step only, starts a fresh worker and
reloads the student's cells (skipping a cell that hung).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import wire
from .sandbox_api import Launcher, WorkerHandle

OUTPUT_KEEP = 64 * 1024
STARTUP_TIMEOUT = 120.0


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


class Session:
    """One student's code, loaded in a worker, ready to run cases."""

    def __init__(self, launcher: Launcher, cells: list[dict], *, cell_timeout: float,
                 slot: int = 0) -> None:
        self.launcher = launcher
        self.cells = cells
        self.cell_timeout = cell_timeout
        self.slot = slot
        self.skip: dict[int, str] = {}
        self.cell_reports: list[CellReport] = []
        self.names: list[str] = []
        self.restarts = 0
        self.handle: WorkerHandle | None = None
        self.drains: list[OutputDrain] = []
        self._loaded = False

    # -- worker lifecycle -------------------------------------------------
    def _spawn(self) -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self.handle = self.launcher.start(in_fd=to_r, out_fd=from_w, output_fd=out_w, slot=self.slot)
        finally:
            for fd in (to_r, from_w, out_w):
                os.close(fd)
        self.to_worker = to_w
        self.reader = wire.FrameReader(from_r)
        drain = OutputDrain(out_r)
        drain.start()
        self.drains.append(drain)
        wire.write_frame(self.to_worker, wire.encode(
            {"op": "load", "cells": self.cells, "skip": [[i, r] for i, r in sorted(self.skip.items())]}))

    def start(self) -> None:
        """Start the worker and send it the cells (returns at once)."""
        if self.handle is None:
            self._spawn()

    def _kill(self) -> None:
        if self.handle is not None:
            self.handle.kill()
            self.handle = None
        for fd in (getattr(self, "to_worker", None), getattr(self, "reader", None) and self.reader.fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.to_worker = None
        self._loaded = False

    def close(self) -> None:
        """Stop the worker and its whole process tree."""
        if self.handle is not None:
            try:
                wire.write_frame(self.to_worker, wire.encode({"op": "exit"}))
            except OSError:
                pass
            self.handle.wait(0.5)
        self._kill()

    def student_output(self) -> tuple[bytes, int]:
        """The first bytes the student's code printed, and how many it printed in all."""
        kept = b"".join(bytes(d.kept) for d in self.drains)
        return kept[:OUTPUT_KEEP], sum(d.total for d in self.drains)

    # -- loading ----------------------------------------------------------
    def load(self) -> None:
        """Wait until the student's cells have run; skip cells that hang."""
        while not self._loaded:
            if self.handle is None:
                self._spawn()
            current: int | None = None
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                try:
                    frame = self.reader.read(deadline)
                except (EOFError, wire.WireError):
                    frame = b""
                if frame is None or frame == b"":
                    self._load_failed(current, timed_out=frame is None)
                    break
                try:
                    event = wire.decode(frame)
                    if event.get("event") == "cell":
                        current = int(event["index"])
                        deadline = time.monotonic() + self.cell_timeout
                    elif event.get("event") == "loaded":
                        self.cell_reports = [CellReport(int(c["index"]), str(c["origin"]), c["error"])
                                             for c in event["cells"]]
                        self.names = [str(n) for n in event["names"]]
                        self._loaded = True
                        break
                except (wire.WireError, KeyError, TypeError, ValueError, AttributeError):
                    self._load_failed(current, timed_out=False, reason="it wrote into the grader's result pipe")
                    break

    def _load_failed(self, current: int | None, *, timed_out: bool, reason: str | None = None) -> None:
        status = self.handle.poll() if self.handle else None
        self._kill()
        if current is None:
            raise WorkerFailure("the grading worker did not start" + (f": it {status.describe()}" if status else ""))
        reason = reason or (f"did not finish within {self.cell_timeout:g} s" if timed_out
                            else f"the process running it {status.describe() if status else 'stopped'}")
        self.skip[current] = reason
        self.restarts += 1

    # -- running cases ----------------------------------------------------
    def run(self, request: dict, timeout: float) -> RunResult:
        """Send one case; wait at most timeout seconds for its result."""
        self.load()
        wire.write_frame(self.to_worker, wire.encode({"op": "run", **request}))
        deadline = time.monotonic() + timeout
        try:
            frame = self.reader.read(deadline)
        except EOFError:
            frame = b""
        except wire.WireError as exc:
            self._kill()
            return RunResult(error={"kind": "crashed", "message": f"sent back a result that cannot be read ({exc})"})
        if frame is None:
            self._kill()
            self.restarts += 1
            return RunResult(error={"kind": "timeout", "message":
                                    f"did not finish within {timeout:g} s (an infinite loop?)"})
        if frame == b"":
            status = self.handle.wait(2) if self.handle else None
            self._kill()
            self.restarts += 1
            what = status.describe() if status else "stopped"
            return RunResult(error={"kind": "crashed", "message": f"the process running your code {what}"})
        try:
            event = wire.decode(frame)
            return RunResult(output=event["output"], error=event["error"],
                             forbidden_used=list(event.get("forbidden_used", [])),
                             seconds=float(event.get("seconds", 0.0)))
        except (wire.WireError, KeyError, TypeError, ValueError) as exc:
            self._kill()
            return RunResult(error={"kind": "crashed", "message": f"sent back a malformed result ({exc})"})


class WorkerFailure(Exception):
    """The worker could not be started at all (a grader problem, not the student's)."""
