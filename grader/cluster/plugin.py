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
import shutil
import threading
from dataclasses import dataclass
from typing import Any

from ..batch import BatchOptions, Outcome, grade_prepared, nothing_to_grade, open_launcher
from ..config import Course, Unit
from ..errors import GraderFailure
from ..notebook.collect import Submission

try:
    from distributed import WorkerPlugin, get_worker
except ImportError:  # grader.cluster says what to install before it gets here
    WorkerPlugin = object  # type: ignore[assignment,misc]

_IMPORT_LOCK = threading.Lock()


MAX_COURSE_FILE = 64 << 20   # a solutions file larger than this is not sent (and the batch says so)


def dumps_plan(plan: Any) -> bytes:
    """Pickle a UnitPlan; the course's checks and references are referred to by module name (see CourseCode)."""
    import cloudpickle

    return cloudpickle.dumps(plan)


@dataclass(frozen=True)
class CourseCode:
    """solutions/<unit>/ as bytes: a worker imports it under the client's module names before it unpickles the plan."""

    unit: str
    files: dict[str, bytes]

    @classmethod
    def read(cls, course: Course, unit: Unit) -> "CourseCode":
        """Every regular file directly in solutions/<unit>/ (the checks, references, mistakes and their data)."""
        folder = course.solutions_dir / unit.id
        files = {}
        for path in sorted(folder.iterdir()):
            if path.is_file():
                if path.stat().st_size > MAX_COURSE_FILE:
                    raise GraderFailure(f"{path} is larger than {MAX_COURSE_FILE >> 20} MiB; not sent to the cluster")
                files[path.name] = path.read_bytes()
        return cls(unit.id, files)

    def install(self, course: Course, unit: Unit) -> tuple[str, Any]:
        """Write the files to a private folder and import them as `_grader_course.<unit>.*`; (folder, spec)."""
        import dataclasses
        import sys
        import tempfile
        from pathlib import Path

        from ..spec.loader import load_unit_spec

        root = tempfile.mkdtemp(prefix="dl-grader-course-")   # mode 0700: no slot user can read it
        folder = Path(root) / "solutions" / self.unit
        folder.mkdir(parents=True)
        for name, data in self.files.items():
            (folder / name).write_bytes(data)
        package = f"_grader_course.{self.unit}"
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]   # an earlier batch's (maybe older) solutions; its plan keeps its own objects
        return root, load_unit_spec(dataclasses.replace(course, root=Path(root)), unit)


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

    def __init__(self, name: str, course: Course, unit: Unit, plan: bytes, options: BatchOptions,
                 code: CourseCode) -> None:
        self.name = name
        self.course, self.unit, self._plan_bytes, self.options, self.code = course, unit, plan, options, code
        self._folder: str | None = None
        self.plan: Any = None
        self.launcher: Any = None
        self.error: str | None = None
        self.report, self.strong = "sandbox: not started", False
        self._slots: queue.Queue[int] = queue.Queue()

    def __getstate__(self) -> dict:
        """Only the batch's data travels; a worker's own launcher and slots never do."""
        return {"name": self.name, "course": self.course, "unit": self.unit, "_plan_bytes": self._plan_bytes,
                "options": self.options, "code": self.code}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["name"], state["course"], state["unit"], state["_plan_bytes"], state["options"],
                      state["code"])

    def setup(self, worker: Any) -> None:
        """Unpickle the plan and open the sandbox; a failure is kept and reported, never raised into Dask."""
        self.worker_address = worker.address
        try:
            with _IMPORT_LOCK:   # concurrent batches on this worker: one imports, then unpickles, at a time
                self._folder, _spec = self.code.install(self.course, self.unit)
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
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

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
