"""Launchers: how the grader starts sandboxed workers.

ZygoteLauncher (batch grading): one exec'd-fresh zygote holds numpy+torch and forks a
sandboxed child per start(); the grader talks to it over a socket and hands it the pipe
ends with SCM_RIGHTS. SubprocessLauncher (`grader check`): a fresh interpreter per worker,
which sandboxes itself before it runs the worker. Both return WorkerHandles.
"""
from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable

from . import cgroups, child, reaper, slots
from .cgroups import JobCgroup
from .limits import slot_user
from .namespaces import hidden_paths
from ..sandbox_api import Launcher, WorkerHandle  # noqa: F401  (re-exported: the protocol every launcher follows)
from .policy import ExitStatus, SandboxError, SandboxPolicy, default_readable, grader_root
from .probe import Capabilities, probe

MAX_ZYGOTE_RESTARTS = 3
_THREADS_ENV = {v: "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                 "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    inherited = os.environ.get("PYTHONPATH")
    pythonpath = str(grader_root()) + (os.pathsep + inherited if inherited else "")
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": pythonpath,
           "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2", **_THREADS_ENV}
    env.update(extra)
    return env


# ---------------------------------------------------------------- zygote


class ZygoteHandle:
    """A worker forked by the zygote; its status arrives as a message."""

    def __init__(self, launcher: "ZygoteLauncher", job: int, pid: int, usage_file: str | None = None) -> None:
        self._launcher, self.job, self.pid = launcher, job, pid
        self._usage_file = usage_file if isinstance(usage_file, str) else None
        self.status: ExitStatus | None = None

    def cpu_seconds(self) -> float | None:
        """CPU time of the worker's whole tree so far, from its cgroup (None when unknown)."""
        return cgroups.read_cpu_seconds(self._usage_file)

    def poll(self) -> ExitStatus | None:
        """The exit status if the worker (and its whole tree) is gone, else None; never blocks."""
        if self.status is None:
            self._launcher._pump(0)
        return self.status

    def wait(self, timeout: float | None) -> ExitStatus | None:
        """Block until the worker is gone (tree killed, reaped, cleaned) or timeout; None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            self._launcher._pump(0.05 if left is None else min(left, 0.05))
        return self.status

    def kill(self) -> None:
        """Kill the whole tree (daemons too), wait until the zygote has reaped and cleaned up."""
        if self.status is not None:
            return
        try:
            self._launcher._send({"op": "kill", "job": self.job})
        except OSError:                       # the zygote is gone, and its jobs with it
            self._launcher._pump(0)
            self._launcher._orphan_handles()
            return
        if self.wait(10.0) is None:
            raise SandboxError(f"worker {self.pid} did not die within 10 s of kill (zygote stuck?)")


def lease_for(workers: int, *, wait: float, on_wait: Callable[[str], None] | None) -> list[slots.Lease]:
    """As root with slot users, lease up to `workers` slots (at least one); otherwise none are needed."""
    if os.geteuid() != 0 or not slots.existing_slots():
        return []
    return slots.lease_slots(workers, wait=wait, on_wait=on_wait)


class ZygoteLauncher:
    """Batch launcher: a fork server holding numpy+torch, one sandboxed child per start().

    As root it first leases its slots (slots.py); `workers` may then be fewer than asked for
    when other graders hold the rest. `start(slot=k)` takes an index 0..workers-1.
    """

    def __init__(self, policy: SandboxPolicy, workers: int, *, payload: str | None = None,
                 start_timeout: float = 120.0, lease_wait: float = 600.0,
                 on_wait: Callable[[str], None] | None = None) -> None:
        """Lease slots, start the zygote and wait for its capability probe; raises SandboxError (exam mode)."""
        self.policy, self._payload, self._start_timeout = policy, payload, start_timeout
        self.leases = lease_for(workers, wait=lease_wait, on_wait=on_wait)
        self.slots = [lease.slot for lease in self.leases] or list(range(workers))
        self.workers = len(self.slots)
        self.restarts = 0
        self._lock = threading.RLock()
        self._handles: dict[int, ZygoteHandle] = {}
        self._errors: dict[int, str] = {}
        self._jobs = itertools.count(1)
        self._closed = False
        try:
            self._spawn_zygote()
        except BaseException:
            slots.release_all(self.leases)
            raise

    def _spawn_zygote(self) -> None:
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = json.dumps({"policy": self.policy.to_json(), "slots": self.slots, "payload": self._payload})
        try:
            with theirs:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "grader.runner.sandbox.zygote", str(theirs.fileno()), config],
                    pass_fds=[theirs.fileno()], env=_child_env({}), cwd="/",
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            hello = self._recv(self._start_timeout)
            if hello is None or hello.get("event") != "hello":
                self._kill_zygote()
                raise SandboxError(f"the sandbox zygote did not start within {self._start_timeout:.0f} s"
                                   " (see its stderr above)")
            self._report = hello["report"]
            self.capabilities = Capabilities.from_json(hello["caps"]) if hello.get("caps") else None
            if hello.get("error"):
                self._kill_zygote()
                raise SandboxError(f"{hello['error']}\n{self._report}")
        except BaseException:
            self._sock.close()
            raise

    def _revive(self) -> None:
        """Start a new zygote when the old one died (killed from outside); its jobs died with it."""
        if self._proc.poll() is None:
            return
        if self.restarts >= MAX_ZYGOTE_RESTARTS:
            raise SandboxError(f"the sandbox zygote died {self.restarts + 1} times (killed from outside?)")
        self.restarts += 1
        self._orphan_handles()
        self._sock.close()
        for lease in self.leases:        # whatever the dead zygote left in our slots
            reaper.kill_uid(lease.uid)
        self._spawn_zygote()

    def _orphan_handles(self) -> None:
        """Every job of a dead zygote died with it (PDEATHSIG): say so to whoever waits on them."""
        for handle in self._handles.values():
            if handle.status is None:
                handle.status = ExitStatus(exit_code=None, signal=int(signal.SIGKILL))
        self._handles.clear()

    def start(self, *, in_fd: int, out_fd: int, output_fd: int, slot: int) -> ZygoteHandle:
        """Fork a sandboxed worker in slot index `slot` (0..workers-1) on in_fd/out_fd, printing to output_fd."""
        if self._closed:
            raise SandboxError("launcher is closed")
        if not 0 <= slot < self.workers:
            raise SandboxError(f"slot index {slot} out of range 0..{self.workers - 1}")
        job = next(self._jobs)
        with self._lock:
            self._revive()
            self._send({"op": "start", "job": job, "slot": self.slots[slot]}, [in_fd, out_fd, output_fd])
            deadline = time.monotonic() + 30
            while job not in self._handles and job not in self._errors:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise SandboxError(f"the zygote did not start job {job} (exit {self._proc.poll()})")
                self._pump(0.05)
            if job in self._errors:
                raise SandboxError(f"could not start a worker in slot {slot}: {self._errors.pop(job)}")
            return self._handles[job]

    def report(self) -> str:
        """One line: the layers in force and the resulting level."""
        return self._report

    def close(self) -> None:
        """Kill every worker, stop the zygote; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._send({"op": "exit"})
            self._proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self._kill_zygote()
            for lease in self.leases:          # its jobs are orphans now; they are still ours to kill
                reaper.kill_uid(lease.uid)
        self._sock.close()
        slots.release_all(self.leases)   # after the zygote killed every job: the next owner finds none

    def __enter__(self) -> "ZygoteLauncher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing
    def _send(self, message: dict, fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        with self._lock:
            if fds:
                socket.send_fds(self._sock, [data], fds)
            else:
                self._sock.send(data)

    def _recv(self, timeout: float) -> dict | None:
        if not select.select([self._sock], [], [], timeout)[0]:
            return None
        try:
            data = self._sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            raise SandboxError("the sandbox zygote died")
        return json.loads(data)

    def _pump(self, timeout: float) -> None:
        """Read and dispatch every pending zygote message (waiting up to timeout for the first)."""
        with self._lock:
            try:
                msg = self._recv(timeout)
                while msg is not None:
                    self._dispatch(msg)
                    msg = self._recv(0)
            except SandboxError:
                if self._closed:
                    raise
                self._orphan_handles()   # its jobs died with it; start() brings up a new zygote

    def _dispatch(self, msg: dict) -> None:
        event = msg.get("event")
        if event == "started":
            self._handles[msg["job"]] = ZygoteHandle(self, msg["job"], msg["pid"], msg.get("usage"))
        elif event == "error":
            self._errors[msg["job"]] = msg["message"]
        elif event == "exit":
            handle = self._handles.pop(msg["job"], None)
            if handle is not None:
                handle.status = ExitStatus(**msg["status"])

    def _kill_zygote(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


# ---------------------------------------------------------------- fresh process


class SubprocessHandle:
    """A worker in a fresh interpreter, child of the grader."""

    def __init__(self, proc: subprocess.Popen, cgroup: JobCgroup | None, uid: int | None,
                 scratch: str | None) -> None:
        self._proc, self._cgroup, self._uid, self._scratch = proc, cgroup, uid, scratch
        self.pid = proc.pid
        self.status: ExitStatus | None = None
        self._pidfd = os.pidfd_open(self.pid) if hasattr(os, "pidfd_open") else None

    def cpu_seconds(self) -> float | None:
        """CPU time of the worker's whole tree so far, from its cgroup (None when unknown)."""
        return self._cgroup.cpu_seconds() if self._cgroup else None

    def poll(self) -> ExitStatus | None:
        """The exit status if the worker is gone (tree killed and cleaned), else None."""
        if self.status is None:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self._finish(status, rusage)
        return self.status

    def wait(self, timeout: float | None) -> ExitStatus | None:
        """Block until the worker exits or timeout; None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            step = 0.05 if left is None else min(left, 0.05)
            if self._pidfd is not None:
                select.select([self._pidfd], [], [], left if left is not None else None)
            else:
                time.sleep(step)
        return self.status

    def kill(self) -> None:
        """Kill the whole tree (cgroup, slot uid or session), reap, remove cgroup and scratch."""
        if self.status is not None:
            return
        reaper.kill_tree(self.pid, cgroup=self._cgroup, uid=self._uid, reap=False)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait(None)

    def _finish(self, status: int, rusage) -> None:
        oom = self._cgroup.oom_killed() if self._cgroup else False
        reaper.kill_tree(self.pid, cgroup=self._cgroup, uid=self._uid, reap=False)
        if self._cgroup:
            self._cgroup.remove()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        self._proc.returncode = status   # keep Popen from waiting on a reaped pid
        self.status = ExitStatus.from_wait(status, rusage, oom)


class SubprocessLauncher:
    """Single-student launcher: a fresh sandboxed interpreter per worker (`grader check`).

    As root it leases one slot user on the first start() and keeps it until close().
    """

    def __init__(self, policy: SandboxPolicy, *, payload: str | None = None, lease_wait: float = 120.0,
                 on_wait: Callable[[str], None] | None = None) -> None:
        """Probe cheaply (no fork) and decide the layers; raises SandboxError in exam mode if weak."""
        self.policy, self.payload = policy, payload
        self._lease_wait, self._on_wait = lease_wait, on_wait
        self.leases: list[slots.Lease] = []
        caps = self.capabilities = probe(policy, slots=1, verify=False)
        self._readable = default_readable(policy)
        self._hidden = hidden_paths(self._readable) if caps.root and caps.namespaces else {}
        self._jobs = itertools.count(1)
        missing = caps.missing(1)
        if policy.exam and missing:
            raise SandboxError("exam mode refuses to run without every strong sandbox layer; missing: "
                               + "; ".join(missing) + "\n" + self.report())
        if caps.root:
            cgroups.sweep_stale(caps.cgroup)

    def report(self) -> str:
        """One line: the layers in force and the resulting level."""
        caps = self.capabilities
        uid = "grader-slot<k>" if caps.uid_drop(1) else ("root!" if caps.root else "same-as-grader")
        return caps.report(1, uid_label=uid)

    def _user(self) -> tuple[int, int] | None:
        """The leased slot user's (uid, gid), leasing one on first use (root with slot users only)."""
        caps = self.capabilities
        if not (caps.root and caps.interpreter_readable and caps.slot_users):
            return None
        if not self.leases:
            self.leases = lease_for(1, wait=self._lease_wait, on_wait=self._on_wait)
        return slot_user(self.leases[0].slot) if self.leases else None

    def start(self, *, in_fd: int, out_fd: int, output_fd: int, slot: int) -> SubprocessHandle:
        """Start a fresh sandboxed interpreter as this launcher's leased slot user (`slot` must be 0)."""
        if slot != 0:
            raise SandboxError(f"a SubprocessLauncher has one slot (index 0), not {slot}")
        caps = self.capabilities
        user = self._user()
        cg = None
        if caps.root and caps.cgroup.any:
            cg = JobCgroup(caps.cgroup, f"{cgroups.PREFIX}{os.getpid()}-{slot}-{next(self._jobs)}",
                           memory_bytes=self.policy.memory_mb << 20, pids_max=self.policy.max_processes,
                           cpus=self.policy.cpus)
        scratch = None
        if not caps.namespaces:
            scratch = tempfile.mkdtemp(prefix="grader-scratch-")
            if user:
                os.chown(scratch, *user)
        plan = child.Plan(
            policy=self.policy.to_json(), readable=self._readable, hidden=self._hidden,
            root=caps.root, namespaces=caps.namespaces, pidns=caps.namespaces and not caps.root,
            landlock_abi=caps.landlock_abi, seccomp=caps.seccomp is None,
            uid=user[0] if user else None, gid=user[1] if user else None,
            cgroup_dirs=tuple(cg.dirs) if cg else (), memory_cgroup=bool(cg and cg.memory_dir),
            scratch=scratch or child.namespaces.SCRATCH, parent=os.getpid())
        env = {child.PLAN_ENV: plan.to_json(), child.FDS_ENV: f"{in_fd},{out_fd},{output_fd}"}
        if self.payload:
            env[child.PAYLOAD_ENV] = self.payload
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from grader.runner.sandbox.child import main; main()"],
                pass_fds=(in_fd, out_fd, output_fd), env=_child_env(env), cwd="/",
                stdin=subprocess.DEVNULL, stdout=output_fd, stderr=output_fd, start_new_session=True)
        except BaseException:
            if cg:
                cg.remove()
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        return SubprocessHandle(proc, cg, user[0] if user else None, scratch)

    def close(self) -> None:
        """Give the leased slot back (every worker of ours is dead by now: sessions kill theirs)."""
        for lease in self.leases:
            reaper.kill_uid(lease.uid)
        slots.release_all(self.leases)
        self.leases = []

    def __enter__(self) -> "SubprocessLauncher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
