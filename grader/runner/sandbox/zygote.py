"""The zygote: a fresh interpreter that imports numpy and torch once and forks sandboxed workers.

Started by ZygoteLauncher as `python -m grader.runner.sandbox.zygote FD CONFIG`. It talks
JSON over an AF_UNIX SOCK_SEQPACKET socket and receives each job's pipe ends with
SCM_RIGHTS. It never sees job data (cells, inputs, expected values, outputs): those go
straight between the grader and the child through the pipes. It is the children's
subreaper, so it can reap everything a job leaves behind.

Messages (launcher -> zygote): {"op": "start", "job": n, "slot": k} + fds [in, out, output],
{"op": "kill", "job": n}, {"op": "exit"}.
(zygote -> launcher): {"event": "hello", "caps", "report", "error"}, {"event": "started", "job",
"pid"}, {"event": "error", "job", "message"}, {"event": "exit", "job", "status"}.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"   # before numpy/torch: libgomp must never start a pool we fork from

from . import cgroups, child, limits, reaper  # noqa: E402
from .cgroups import JobCgroup  # noqa: E402
from .policy import SETUP_FAILED, ExitStatus, SandboxPolicy, default_readable  # noqa: E402
from .probe import Capabilities, probe  # noqa: E402
from . import namespaces  # noqa: E402

MAX_MESSAGE = 1 << 16


def preload(payload: str | None) -> None:
    """Import numpy, torch (1 thread, kernels warmed) and the worker modules, before any job."""
    import numpy  # noqa: F401
    try:
        import torch
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        x = torch.ones(1, 1, 8, 8)
        torch.nn.functional.conv2d(x, torch.ones(1, 1, 3, 3)).sum().item()
        (torch.ones(4, 4) @ torch.ones(4, 4)).softmax(-1)
    except ImportError:
        pass
    for name in ("grader.runner.worker", "grader.runner.wire", "grader.drivers"):
        try:
            __import__(name)
        except Exception:
            pass                     # the lead's modules may not exist yet; children import lazily
    if payload:
        child.load_payload(payload)


def warm_up() -> None:
    """Imports that only some jobs need, made once after the hello, while the grader plans its cases.

    The first torch optimizer imports torch._dynamo (about a second, no threads): paid here
    once instead of in every job that trains a model (Unit 3's drivers and students do). The
    built-in drivers and the forbidden-call watch are imported on a job's first case (40 ms).
    """
    try:
        import torch
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        from ... import drivers
        from .. import forbid  # noqa: F401
        drivers.get("call")            # imports every built-in driver module
    except Exception:  # noqa: BLE001  (a job would only pay the imports itself)
        pass


class Job:
    """A running job as the zygote sees it."""

    def __init__(self, job: int, slot: int, pid: int, cgroup: JobCgroup | None, uid: int | None) -> None:
        self.job, self.slot, self.pid, self.cgroup, self.uid = job, slot, pid, cgroup, uid
        self.status: ExitStatus | None = None


class Zygote:
    """The fork server loop."""

    def __init__(self, sock: socket.socket, policy: SandboxPolicy, slots: list[int], payload: str | None) -> None:
        self.sock, self.policy, self.payload = sock, policy, payload
        self.slots, self.workers = list(slots), len(slots)   # the slots the grader leased for us
        self.jobs: dict[int, Job] = {}       # pid -> job
        self.by_id: dict[int, Job] = {}
        self.caps: Capabilities | None = None
        self.readable = default_readable(policy)
        self.hidden: dict = {}

    def send(self, message: dict, fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.send(data)

    def setup(self) -> str | None:
        """Probe, clean up cgroups of dead earlier runs, and decide; returns an error or None.

        Processes of the slot users are not ours to kill: the grader leased our slots and
        cleaned up what a dead earlier owner left (slots.py); other slots belong to others.
        """
        limits.become_subreaper()
        caps = self.caps = probe(self.policy, slots=self.workers, verify=True, slot_ids=self.slots)
        if caps.root:
            cgroups.sweep_stale(caps.cgroup)
            if caps.namespaces:
                self.hidden = namespaces.hidden_paths(self.readable)
        missing = caps.missing(self.workers)
        if self.policy.exam and missing:
            return ("exam mode refuses to run without every strong sandbox layer; missing: "
                    + "; ".join(missing))
        return None

    def report(self) -> str:
        caps = self.caps
        uid = "grader-slot" + ",".join(map(str, self.slots)) if caps.uid_drop(self.workers) else (
            "root!" if caps.root else "same-as-grader")
        return caps.report(self.workers, uid_label=uid)

    def plan(self, slot: int, cgroup: JobCgroup | None) -> child.Plan:
        caps = self.caps
        user = limits.slot_user(slot) if caps.uid_drop(self.workers) else None
        return child.Plan(
            policy=self.policy.to_json(), readable=self.readable, hidden=self.hidden,
            root=caps.root, namespaces=caps.namespaces, pidns=caps.namespaces and not caps.root,
            landlock_abi=caps.landlock_abi, seccomp=caps.seccomp is None,
            uid=user[0] if user else None, gid=user[1] if user else None,
            cgroup_dirs=tuple(cgroup.dirs) if cgroup else (),
            memory_cgroup=bool(cgroup and cgroup.memory_dir), parent=os.getpid())

    def start(self, job_id: int, slot: int, fds: list[int]) -> None:
        if len(fds) != 3:
            raise ValueError(f"expected 3 fds (in, out, output), got {len(fds)}")
        if slot not in self.slots:
            raise ValueError(f"slot {slot} is not one of this grader's leased slots {self.slots}")
        if any(j.slot == slot for j in self.by_id.values()):
            raise ValueError(f"slot {slot} is busy")
        cg = None
        if self.caps.root and self.caps.cgroup.any:
            cg = JobCgroup(self.caps.cgroup, f"{cgroups.PREFIX}{os.getpid()}-{slot}-{job_id}",
                           memory_bytes=self.policy.memory_mb << 20, pids_max=self.policy.max_processes,
                           cpus=self.policy.cpus)
        plan = self.plan(slot, cg)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._child(plan, fds)
        job = Job(job_id, slot, pid, cg, plan.uid)
        self.jobs[pid], self.by_id[job_id] = job, job
        self.send({"event": "started", "job": job_id, "pid": pid, "usage": cg.usage_file if cg else None})

    def _child(self, plan: child.Plan, fds: list[int]) -> None:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        try:
            payload = child.load_payload(self.payload)
            in_fd, out_fd = child.enter(plan, *fds)
        except BaseException as exc:
            child.report_setup_error(exc, fds[2])
            os._exit(SETUP_FAILED)
        child.run_payload(payload, in_fd, out_fd)

    def kill(self, job_id: int) -> None:
        job = self.by_id.get(job_id)
        if job is not None and job.status is None:
            reaper.kill_tree(job.pid, cgroup=job.cgroup, uid=job.uid, reap=True, on_exit=self.on_exit)

    def on_exit(self, pid: int, status: int, rusage) -> None:
        job = self.jobs.get(pid)
        if job is not None and job.status is None:
            oom = job.cgroup.oom_killed() if job.cgroup else False
            job.status = ExitStatus.from_wait(status, rusage, oom)

    def finish(self) -> None:
        """Clean up every job whose leader has exited and report it."""
        for job in [j for j in self.by_id.values() if j.status is not None]:
            reaper.kill_tree(job.pid, cgroup=job.cgroup, uid=job.uid, reap=True, on_exit=self.on_exit)
            if job.cgroup:
                job.cgroup.remove()
            del self.jobs[job.pid], self.by_id[job.job]
            self.send({"event": "exit", "job": job.job, "status": job.status.to_json()})

    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)
        while True:
            ready = select.select([self.sock, wake_r], [], [], 0.5)[0]
            if wake_r in ready:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
            reaper.reap_orphans(self.on_exit)
            self.finish()
            if self.sock in ready and not self.handle_message():
                break
        for job in list(self.by_id.values()):
            self.kill(job.job)
        deadline = time.monotonic() + 5
        while self.by_id and time.monotonic() < deadline:
            reaper.reap_orphans(self.on_exit)
            self.finish_quietly()
            time.sleep(0.005)

    def finish_quietly(self) -> None:
        try:
            self.finish()
        except OSError:
            for job in [j for j in self.by_id.values() if j.status is not None]:
                if job.cgroup:
                    job.cgroup.remove()
                del self.jobs[job.pid], self.by_id[job.job]

    def handle_message(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 3)
        except OSError:
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False                    # the launcher (grader) is gone: kill everything
        try:
            msg = json.loads(data)
            op = msg.get("op")
            if op == "start":
                try:
                    self.start(int(msg["job"]), int(msg["slot"]), fds)
                except Exception as exc:
                    self.send({"event": "error", "job": msg.get("job"), "message": f"{exc}"})
            elif op == "kill":
                self.kill(int(msg["job"]))
            elif op == "exit":
                return False
        finally:
            for fd in fds:
                os.close(fd)
        return True


def main() -> None:
    """Entry point: `python -m grader.runner.sandbox.zygote FD CONFIG_JSON`."""
    fd, config = int(sys.argv[1]), json.loads(sys.argv[2])
    sock = socket.socket(fileno=fd)
    policy = SandboxPolicy.from_json(config["policy"])
    zygote = Zygote(sock, policy, [int(s) for s in config["slots"]], config.get("payload"))
    try:
        preload(config.get("payload"))
        error = zygote.setup()
    except Exception as exc:
        error = f"zygote set-up failed: {exc.__class__.__name__}: {exc}"
    caps = zygote.caps.to_json() if zygote.caps else None
    zygote.send({"event": "hello", "caps": caps, "error": error,
                 "report": zygote.report() if zygote.caps else "sandbox: unavailable"})
    if error:
        sys.exit(2)
    warm_up()
    zygote.serve()


if __name__ == "__main__":
    main()
