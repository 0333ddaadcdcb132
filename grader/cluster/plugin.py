"""The worker side: a Dask worker plugin holding one batch's plan and sandbox, and the task that grades.

The plugin travels once to every worker of the cluster (and to workers that join later:
the scheduler keeps it). Its setup unpickles the plan and opens the same launcher a local
batch opens: a zygote of this worker's own, leasing as many slot users as the worker has
threads, so several workers on one host never share a uid. The task takes one prepared
submission (plain cells) and returns one Outcome; the student's code runs only in the
sandboxed children of the zygote, never in the Dask worker.
"""
from __future__ import annotations

import os
import pickle
import queue
import socket
import threading
from dataclasses import dataclass
from typing import Any

from ..batch import BatchOptions, Outcome, grade_prepared, nothing_to_grade, open_launcher
from ..config import Course, Unit
from ..notebook.collect import Submission

try:
    from distributed import WorkerPlugin, get_worker
except ImportError:  # grader.cluster says what to install before it gets here
    WorkerPlugin = object  # type: ignore[assignment,misc]

_PICKLE_LOCK = threading.Lock()


def dumps_plan(plan: Any) -> bytes:
    """Pickle a UnitPlan with the course's checks and references by value (workers need no course folder)."""
    import sys

    import cloudpickle

    with _PICKLE_LOCK:   # the by-value registry is global; concurrent batches in one process share it
        for name, module in list(sys.modules.items()):
            if name.startswith("_grader_course.") and module is not None:
                cloudpickle.register_pickle_by_value(module)
        return cloudpickle.dumps(plan)


@dataclass(frozen=True)
class HostReport:
    """What one Dask worker says about its sandbox."""

    worker: str
    host: str
    pid: int
    report: str
    strong: bool
    gpu: bool
    error: str | None = None


class GradingPlugin(WorkerPlugin):
    """One batch's plan and sandbox on one Dask worker; removed (zygote stopped, slots freed) after the batch."""

    def __init__(self, name: str, course: Course, unit: Unit, plan: bytes, options: BatchOptions) -> None:
        self.name = name
        self.course, self.unit, self._plan_bytes, self.options = course, unit, plan, options
        self.plan: Any = None
        self.launcher: Any = None
        self.error: str | None = None
        self.report, self.strong = "sandbox: not started", False
        self._slots: queue.Queue[int] = queue.Queue()

    def __getstate__(self) -> dict:
        """Only the batch's data travels; a worker's own launcher and slots never do."""
        return {"name": self.name, "course": self.course, "unit": self.unit, "_plan_bytes": self._plan_bytes,
                "options": self.options}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["name"], state["course"], state["unit"], state["_plan_bytes"], state["options"])

    def setup(self, worker: Any) -> None:
        """Unpickle the plan and open the sandbox; a failure is kept and reported, never raised into Dask."""
        self.worker_address = worker.address
        try:
            self.plan = pickle.loads(self._plan_bytes)
            options = self.options
            choice = open_launcher(self.course, max(1, worker.state.nthreads), exam=options.exam,
                                   mode=options.launcher, device=options.device)
        except Exception as exc:  # noqa: BLE001  (GraderFailure in exam mode, a broken host: reported per host)
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.report = f"sandbox: FAILED ({self.error})"
            return
        self.launcher, self.report, self.strong = choice.launcher, choice.report, choice.strong
        for slot in range(getattr(choice.launcher, "workers", 1)):
            self._slots.put(slot)

    def teardown(self, worker: Any) -> None:
        """Stop this batch's zygote and give its slots back."""
        if self.launcher is not None:
            self.launcher.close()
            self.launcher = None

    def host_report(self) -> HostReport:
        """This worker's sandbox, for the client's per-host report."""
        return HostReport(self.worker_address, socket.gethostname(), os.getpid(), self.report, self.strong,
                          _has_gpu(), self.error)

    def grade(self, student: str, digest: str, sub: Submission) -> Outcome:
        """Grade one prepared submission in one of this worker's slots."""
        refusal = self.error or (None if self.strong or not self.options.exam else "its sandbox is not strong")
        if refusal is not None:
            reason = f"the Dask worker on {socket.gethostname()} cannot grade: {refusal}"
            return Outcome(student, "grader_error", nothing_to_grade(self.unit, reason, sub.problems), reason, digest)
        slot = self._slots.get()
        try:
            return grade_prepared(self.course, self.unit, student, digest, sub, self.plan, self.launcher, slot)
        finally:
            self._slots.put(slot)


def _has_gpu() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


def grade_task(plugin: str, student: str, digest: str, sub: Submission) -> dict:
    """The Dask task: grade one student on this worker with the batch's plugin; plain data back."""
    outcome = get_worker().plugins[plugin].grade(student, digest, sub)
    return {"student": outcome.student, "status": outcome.status, "result": outcome.result.to_json(weights=True),
            "error": outcome.error, "content_hash": outcome.content_hash, "seconds": outcome.seconds,
            "host": socket.gethostname()}


def host_report(plugin: str, dask_worker: Any = None) -> dict:
    """For client.run: this worker's HostReport as a dict (None fields when the plugin is missing)."""
    found = dask_worker.plugins.get(plugin) if dask_worker is not None else None
    if found is None:
        return {"worker": getattr(dask_worker, "address", "?"), "host": socket.gethostname(), "pid": os.getpid(),
                "report": "sandbox: not set up (the batch's plugin is missing)", "strong": False, "gpu": _has_gpu(),
                "error": "the batch's plugin is missing"}
    return found.host_report().__dict__
