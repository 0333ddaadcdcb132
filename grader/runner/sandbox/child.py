"""Entering the sandbox, in the child, in the order of docs/security.md.

`enter(plan, ...)` is shared by both launchers: the zygote calls it in a forked child,
and `main()` is the entry point of SubprocessLauncher's fresh interpreter.
Until enter() returns, only trusted code runs; after it, the process may run student code.
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import sys
from dataclasses import asdict, dataclass
from typing import Any

from . import landlock, limits, namespaces, seccomp_filter
from .policy import SETUP_FAILED, SandboxPolicy

IN_FD, OUT_FD = 3, 4          # where the protocol pipes end up in the child
PLAN_ENV = "GRADER_SANDBOX_PLAN"
_NS_FLAGS = namespaces.CLONE_NEWNET | namespaces.CLONE_NEWNS | namespaces.CLONE_NEWIPC | namespaces.CLONE_NEWUTS


@dataclass(frozen=True)
class Plan:
    """Everything a child needs to confine itself; plain data, decided by the launcher."""

    policy: dict                       # SandboxPolicy.to_json()
    readable: tuple[str, ...]
    hidden: dict                       # blocking dir -> paths to re-expose (root + mount ns)
    root: bool
    namespaces: bool
    pidns: bool                        # non-root tree kill: job runs as pid 1 of its own pid ns
    landlock_abi: int
    seccomp: bool
    uid: int | None                    # slot user to drop to (root only)
    gid: int | None
    cgroup_dirs: tuple[str, ...] = ()  # job cgroups to join (root only)
    memory_cgroup: bool = False
    scratch: str = namespaces.SCRATCH  # host dir used when there is no mount namespace
    parent: int = 0                    # pid that must stay our parent (for PDEATHSIG)

    def to_json(self) -> str:
        """Serialise for the environment of a fresh interpreter."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        """Inverse of to_json."""
        data = json.loads(text)
        data["readable"] = tuple(data["readable"])
        data["cgroup_dirs"] = tuple(data["cgroup_dirs"])
        return cls(**data)


class SetupError(RuntimeError):
    """A planned layer could not be applied."""


def _step(name: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise SetupError(f"sandbox: {name} failed: {exc}") from exc


_arranged = False


def report_setup_error(exc: BaseException, output_fd: int) -> None:
    """Write why set-up failed to the job's output (fd 2 once the fds were rearranged)."""
    try:
        os.write(2 if _arranged else output_fd, f"{exc}\n".encode())
    except OSError:
        pass


def _arrange_fds(in_fd: int, out_fd: int, output_fd: int) -> None:
    """stdin=/dev/null, stdout/stderr=output_fd, protocol pipes at 3/4, nothing else open."""
    global _arranged
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in (in_fd, out_fd, output_fd)]
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(high[2], 1)
    os.dup2(high[2], 2)
    os.dup2(high[0], IN_FD)
    os.dup2(high[1], OUT_FD)
    os.closerange(OUT_FD + 1, 1 << 20)
    _arranged = True
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin


def _relay(child: int, alive_w: int) -> None:
    """Non-root pid-namespace relay: wait for the job's pid 1 and exit the way it did."""
    os.closerange(0, alive_w)
    os.closerange(alive_w + 1, 1 << 20)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(SETUP_FAILED)
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else SETUP_FAILED)


def _enter_pid_namespace() -> None:
    """Become pid 1 of a new pid namespace (inside a new user namespace); the caller relays."""
    namespaces.enter_user_namespace(_NS_FLAGS | namespaces.CLONE_NEWPID)
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(alive_r)
        _relay(pid, alive_w)
    os.close(alive_w)
    limits.die_with_parent(os.getppid())      # ppid reads 0 from inside; checked through the pipe
    if select.select([alive_r], [], [], 0)[0]:
        os._exit(1)                          # the relay is already gone
    os.close(alive_r)


def enter(plan: Plan, in_fd: int, out_fd: int, output_fd: int) -> tuple[int, int]:
    """Apply every planned layer to the calling process; returns the protocol fds (3, 4)."""
    policy = SandboxPolicy.from_json(plan.policy)
    try:
        os.setsid()
    except OSError:
        pass                                 # already a session leader (start_new_session)
    for d in plan.cgroup_dirs:
        _step("cgroup join", _write, os.path.join(d, "cgroup.procs"), "0")
    _arrange_fds(in_fd, out_fd, output_fd)
    scratch = plan.scratch
    ns_done = False
    if plan.namespaces:
        try:
            if plan.root:
                namespaces.unshare(_NS_FLAGS)
            elif plan.pidns:
                _enter_pid_namespace()
            else:
                namespaces.enter_user_namespace(_NS_FLAGS)
            namespaces.private_mounts()
            uid = plan.uid if plan.uid is not None else os.getuid()
            gid = plan.gid if plan.gid is not None else os.getgid()
            scratch = namespaces.mount_scratch(policy.scratch_mb, uid, gid, plan.readable)
            if plan.hidden:
                namespaces.reexpose(plan.hidden)
            ns_done = True
        except OSError as exc:
            if policy.exam or plan.root:
                raise SetupError(f"sandbox: namespaces failed: {exc}") from exc
            scratch = plan.scratch           # carry on: seccomp still blocks sockets
    memory_via_rlimit = not plan.memory_cgroup
    ruleset = None
    if plan.landlock_abi:
        ruleset = _step("landlock", landlock.Ruleset, plan.landlock_abi)
        for path in plan.readable:
            ruleset.allow(path)
        if not _step("landlock", lambda: ruleset.allow(scratch, write=True)):
            raise SetupError(f"sandbox: scratch dir {scratch} is missing")
        ruleset.allow("/dev/null", write=True)
        if policy.gpu:
            _allow_gpu(ruleset)
    if not plan.root and not ns_done and not plan.pidns:
        # NPROC counts all our uid's tasks when there is no user namespace to count from zero.
        policy = _with_extra_processes(policy)
    _step("rlimits", limits.apply_rlimits, policy, memory_via_rlimit=memory_via_rlimit)
    if plan.root and plan.uid is not None:
        _step("uid drop", limits.drop_to, plan.uid, plan.gid)
    if plan.root or ns_done:
        _step("capabilities", limits.clear_capabilities)
    if not plan.pidns:
        limits.die_with_parent(plan.parent)
    limits.not_dumpable()
    if ruleset is not None:
        _step("landlock", ruleset.restrict)
    if plan.seccomp:
        _step("seccomp", seccomp_filter.load)
    os.chdir(scratch)
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                       **{v: "1" for v in _THREAD_VARS}})
    return IN_FD, OUT_FD


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS")


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def gpu_device_files() -> list[str]:
    """The NVIDIA device files of this machine (empty without a driver)."""
    import glob

    return sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*"))


def wants_gpu(device: str) -> bool:
    """Whether a worker for this device needs the GPU's device files ('auto': when there are any)."""
    return device == "cuda" or (device == "auto" and any(p.startswith("/dev/nvidia") for p in gpu_device_files()))


def _allow_gpu(ruleset: Any) -> None:
    """CUDA opens the device files read-write (with ioctls) and reads driver state in /proc and /sys."""
    for path in gpu_device_files():
        ruleset.allow(path, write=True)
    for path in ("/sys", "/proc/driver/nvidia", "/etc/nvidia"):
        if os.path.exists(path):
            ruleset.allow(path)


def _with_extra_processes(policy: SandboxPolicy) -> SandboxPolicy:
    from dataclasses import replace
    uid, tasks = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    tasks += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return replace(policy, max_processes=policy.max_processes + tasks)


FDS_ENV = "GRADER_SANDBOX_FDS"
PAYLOAD_ENV = "GRADER_SANDBOX_PAYLOAD"


def main() -> None:
    """Entry of a fresh sandboxed interpreter (SubprocessLauncher); plan and fds come in the env."""
    plan = Plan.from_json(os.environ[PLAN_ENV])
    in_fd, out_fd, output_fd = (int(x) for x in os.environ[FDS_ENV].split(","))
    try:
        payload = load_payload(os.environ.get(PAYLOAD_ENV))   # imported before Landlock applies
        in_fd, out_fd = enter(plan, in_fd, out_fd, output_fd)
    except Exception as exc:
        report_setup_error(exc, output_fd)
        os._exit(SETUP_FAILED)
    run_payload(payload, in_fd, out_fd)


def run_payload(payload, in_fd: int, out_fd: int) -> None:
    """Run the payload with student-proof exit handling, then os._exit (never returns)."""
    code = 0
    try:
        payload(in_fd, out_fd)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        try:
            import traceback
            traceback.print_exc()
        except BaseException:
            pass
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code)


def load_payload(name: str | None):
    """The function run after enter(): the worker's serve(), or `module:function` (self-test, bench)."""
    if not name:
        try:
            from grader.runner.worker import serve
        except ImportError as exc:
            raise SetupError(f"sandbox: cannot import grader.runner.worker ({exc})") from exc
        return serve
    import importlib
    module, _, func = name.partition(":")
    return getattr(importlib.import_module(module), func)
