"""The client side: connect to the cluster, send the plan once, submit one task per student, record results.

This process keeps every trusted decision that a local batch keeps: discovery, the
fingerprints that skip unchanged work, the plan (from the course secret, which never
leaves this process), reading each submission, and the gradebook, written from this
thread only, one transaction per student. Workers get the plan (inputs and expected
outputs, the checks and references that explain mistakes) inside the batch's plugin,
once each, and one student's cells per task.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
import urllib.parse
import uuid
from typing import Any, Callable

from ..batch import BatchOptions, LauncherChoice, Outcome, Recorder, _Job, entry_code, nothing_to_grade, prepare_job
from ..checking import UnitPlan, plan_unit
from ..config import Course, Unit
from ..errors import GraderFailure, UsageError
from ..report.safe import one_line
from ..results import UnitResult

LOCAL = re.compile(r"local:(\d{1,4})")
MAX_LOCAL_WORKERS = 256
CONNECT_TIMEOUT = 30.0       # seconds to reach the scheduler
WORKERS_TIMEOUT = 120.0      # seconds to wait for the first worker of a remote cluster
SCHEDULER_HINT = ("start one with `dask scheduler` and workers with `dask worker tcp://HOST:8786 --nthreads 4`, "
                  "or give local:N for N worker processes on this machine (docs/cluster.md)")


def parse_address(address: str) -> tuple[str, int | None]:
    """('local', N) for local:N, else (the scheduler address, None); a UsageError for anything else."""
    if (m := LOCAL.fullmatch(address)) is not None:
        count = int(m.group(1))
        if not 1 <= count <= MAX_LOCAL_WORKERS:
            raise UsageError(f"local:{count}: give between 1 and {MAX_LOCAL_WORKERS} worker processes")
        return "local", count
    scheme, _, rest = address.partition("://")
    if not rest:
        scheme, rest = "tcp", address
    if scheme not in ("tcp", "tls", "ucx", "inproc") or not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", rest):
        raise UsageError(f"--cluster {address!r} is not a scheduler address",
                         "give tcp://HOST:PORT (or tls://HOST:PORT), or local:N; " + SCHEDULER_HINT)
    return f"{scheme}://{rest}", None


def is_loopback(address: str) -> bool:
    """Whether a scheduler address names this machine (nothing crosses a network)."""
    host = urllib.parse.urlsplit(address).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_cluster(address: str, course: Course, options: BatchOptions, *,
                 on_note: Callable[[str], None] | None = None) -> LauncherChoice:
    """Start local:N or connect to a scheduler; the choice's launcher is a `ClusterPool`."""
    target, count = parse_address(address)
    if options.launcher == "local" and options.exam:
        raise GraderFailure("exam mode refuses to grade without the sandbox (--launcher local was given)")
    if options.exam and count is None and not target.startswith("tls://") and not is_loopback(target):
        raise GraderFailure(f"exam mode sends the hidden cases only over TLS; {target} is not tls://",
                            "configure Dask's TLS (docs/cluster.md, \"Security\") or grade with local:N")
    pool = ClusterPool(target, count, options, on_note=on_note)
    return LauncherChoice(pool, pool.describe(), True)


class ClusterPool:
    """A connected Dask client (and the LocalCluster it started, for local:N)."""

    def __init__(self, target: str, count: int | None, options: BatchOptions, *,
                 on_note: Callable[[str], None] | None = None) -> None:
        from distributed import Client, LocalCluster

        self.options, self._note = options, on_note or (lambda message: None)
        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)   # a lost scheduler: our own message
        self.cluster = None
        try:
            if count is not None:
                self.cluster = LocalCluster(
                    n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                    dashboard_address="127.0.0.1:0", memory_limit=0,   # port 0: concurrent batches never collide
                    resources={"GPU": 1} if options.device in ("cuda", "auto") and _local_gpu() else None,
                    silence_logs=logging.ERROR)
                self.client = Client(self.cluster, timeout=CONNECT_TIMEOUT, set_as_default=False)
                self.client.wait_for_workers(count, timeout=WORKERS_TIMEOUT)
            else:
                self.client = Client(target, timeout=CONNECT_TIMEOUT, set_as_default=False)
                self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise GraderFailure(f"could not reach a Dask cluster with workers at {target}: {one_line(exc)}",
                                SCHEDULER_HINT) from exc
        self.address = target if count is None else f"local:{count} ({self.client.scheduler.address})"
        self.workers = sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())
        self.device = options.device if options.device != "auto" else ("cuda" if self._gpu_workers() else "cpu")

    def describe(self) -> str:
        """One line: where grading runs, how many workers and threads, and the dashboard when there is one."""
        workers = self.client.scheduler_info()["workers"]
        hosts = {w["host"] for w in workers.values()}
        line = (f"cluster: {self.address}, {len(workers)} Dask workers on {len(hosts)} host(s), "
                f"{self.workers} slots")
        link = self.dashboard()
        return line + (f"; dashboard {link}" if link else "; no dashboard")

    def dashboard(self) -> str | None:
        """The cluster's dashboard address, when it serves one."""
        try:   # without bokeh the scheduler's HTTP server answers /health and /metrics only
            return self.client.dashboard_link if self.client.run_on_scheduler(_serves_dashboard) else None
        except Exception:  # noqa: BLE001  (no dashboard is no error)
            return None

    def grade(self, course: Course, unit: Unit, jobs: list[_Job], secret: str | None, record: Recorder) -> None:
        """Plan here, send the plan once, grade every job on the cluster and record each result as it comes."""
        from .plugin import CourseCode, GradingPlugin

        self.unit = unit
        plan, code = self._plan(course, unit, secret)
        name = f"dl-grader-{unit.id}-{uuid.uuid4().hex[:12]}"
        plugin = GradingPlugin(name, course, unit, plan, dataclasses.replace(self.options, device=self.device),
                               CourseCode.read(course, unit))
        self._register(plugin)
        try:
            self._check_hosts(name)
            self._run(name, jobs, code, record)
        finally:
            self._unregister(name)

    def _plan(self, course: Course, unit: Unit, secret: str | None) -> tuple[bytes, tuple[set[str], dict]]:
        """The pickled plan, computed here (CPU) or, for --device cuda, on one of the cluster's GPU workers;
        and what `prepare` needs (the exercises' entry names, the starters' code)."""
        from .plugin import dumps_plan

        if self.device != "cuda":
            plan = plan_unit(course, unit, device="cpu", secret=secret)
            return dumps_plan(plan), entry_code(course, unit, plan)
        self._require_gpu_workers()
        from ..spec.loader import load_unit_spec
        from .gpu import plan_on_gpu

        return plan_on_gpu(self.client, course, unit, secret), \
            entry_code(course, unit, UnitPlan(load_unit_spec(course, unit), "cuda", {}))

    def _gpu_workers(self) -> int:
        """How many workers offer the GPU resource."""
        workers = self.client.scheduler_info()["workers"].values()
        return sum(w.get("resources", {}).get("GPU", 0) >= 1 for w in workers)

    def _require_gpu_workers(self) -> None:
        if not self._gpu_workers():
            raise GraderFailure("--device cuda: no worker of this cluster offers the GPU resource",
                                "start GPU workers with `dask worker SCHEDULER --resources GPU=1` "
                                "(one per GPU), or grade with --device cpu")

    def _register(self, plugin: Any) -> None:
        register = getattr(self.client, "register_plugin", None) or self.client.register_worker_plugin
        register(plugin, name=plugin.name)

    def _unregister(self, name: str) -> None:
        if self.client.status != "running":   # a scheduler that went away took the plugin with it
            return
        try:
            self.client.unregister_worker_plugin(name)
        except Exception:  # noqa: BLE001  (a scheduler that went away took the plugin with it)
            pass

    def _check_hosts(self, name: str) -> None:
        """Say each host's sandbox level; in exam mode refuse a cluster with any weak host."""
        from .plugin import host_report

        reports = self.client.run(host_report, name)
        by_host: dict[str, list[dict]] = {}
        for info in reports.values():
            by_host.setdefault(info["host"], []).append(info)
        weak = []
        for host, infos in sorted(by_host.items()):
            lines = sorted({i["report"] for i in infos})
            for line in lines:
                self._note(f"host {host} ({len(infos)} Dask workers): {line}")
            if any(not i["strong"] for i in infos):
                weak.append(f"{host}: {lines[0]}")
        self.strong = not weak
        if self.options.exam and weak:
            raise GraderFailure("exam mode refuses to grade: weak sandbox on " + "; ".join(weak),
                                "fix those hosts (python -m grader.runner.sandbox.selftest) or stop their workers")

    def _run(self, name: str, jobs: list[_Job], code: tuple[set[str], dict], record: Recorder) -> None:
        """Submit each student as soon as their cells are read (workers start at once); record as tasks end."""
        from distributed import as_completed

        from .plugin import grade_task

        resources = {"GPU": 1} if self.device == "cuda" else None
        futures: dict[Any, _Job] = {}
        pending = as_completed([], loop=self.client.loop)
        graded = [0]

        def take(future: Any) -> bool:
            """Record one finished task; True when the batch must stop."""
            outcome = self._outcome(future, futures[future])
            if outcome is None:
                record.report.aborted = (f"the Dask scheduler went away after {graded[0]} of {len(futures)} "
                                         "students; their grades are kept: run the same command again to grade "
                                         "the rest")
                return True
            graded[0] += 1
            return record(outcome)

        try:
            for priority, job in enumerate(jobs):
                sub = prepare_job(self.unit, job, code)
                if isinstance(sub, Outcome):      # nothing to run: recorded here, as a local batch does
                    if record(sub):
                        return
                    continue
                student = job.folder.student
                future = self.client.submit(grade_task, name, student, job.content_hash, sub,
                                            key=f"{name}-{student}", pure=False, resources=resources,
                                            priority=-priority)
                futures[future] = job
                pending.add(future)
                while pending.has_ready():   # record what is done while the rest is still being read
                    if any(take(done) for done in pending.next_batch(block=False)):
                        return
            for future in pending:
                if take(future):
                    return
        finally:
            if self.client.status == "running":
                self.client.cancel(list(futures), force=True)

    def _outcome(self, future: Any, job: _Job) -> Outcome | None:
        """The task's Outcome; a grader_error when it killed workers; None when the scheduler is gone."""
        from distributed import KilledWorker

        student = job.folder.student
        try:
            data = future.result()
        except KilledWorker as exc:
            reason = (f"grading this student lost {one_line(exc, 200)}: every Dask worker that ran it died "
                      "(a host problem, or code that escaped a weak sandbox); not retried further")
            return Outcome(student, "grader_error", nothing_to_grade(self.unit, reason, []), reason,
                           job.content_hash)
        except Exception as exc:  # noqa: BLE001
            if self.client.status != "running" or _is_cancelled(exc):
                return None
            raise
        return Outcome(data["student"], data["status"], UnitResult.from_json(data["result"]), data["error"],
                       data["content_hash"], data["seconds"])

    def close(self) -> None:
        """Disconnect (and stop the LocalCluster this pool started)."""
        for thing in (getattr(self, "client", None), self.cluster):
            if thing is not None:
                try:
                    thing.close(timeout=CONNECT_TIMEOUT)
                except Exception:  # noqa: BLE001  (a scheduler that is gone is closed enough)
                    pass


def _is_cancelled(exc: BaseException) -> bool:
    import asyncio
    import concurrent.futures

    return isinstance(exc, (asyncio.CancelledError, concurrent.futures.CancelledError)) \
        or type(exc).__name__ in ("FutureCancelledError", "CancelledError", "CommClosedError")


def _serves_dashboard(dask_scheduler: Any = None) -> bool:
    """On the scheduler: whether its dashboard (bokeh) is up."""
    import sys

    return "distributed.dashboard.scheduler" in sys.modules


def _local_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())
