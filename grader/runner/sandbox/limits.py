"""Resource limits and privilege drop, applied in the child before Landlock and seccomp."""
from __future__ import annotations

import ctypes
import os
import pwd
import resource
import signal

from .policy import SLOT_USER_PREFIX, SandboxPolicy

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 1, 4, 36
MIB = 1 << 20


def _lower(which: int, value: int) -> None:
    """Set soft and hard limit to value, never above the current hard limit (we cannot raise it)."""
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def vm_data_bytes() -> int:
    """The calling process's current data segment size (VmData), 0 if unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def apply_rlimits(policy: SandboxPolicy, *, memory_via_rlimit: bool) -> list[str]:
    """CPU, NPROC, FSIZE, NOFILE, CORE, MEMLOCK (+ DATA without a memory cgroup); names applied."""
    cpu_soft, cpu_hard = policy.cpu_seconds, policy.cpu_seconds + 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        cpu_hard = min(cpu_hard, hard)
        cpu_soft = min(cpu_soft, cpu_hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, cpu_hard))  # SIGXCPU, then SIGKILL
    _lower(resource.RLIMIT_NPROC, policy.max_processes)
    _lower(resource.RLIMIT_FSIZE, policy.max_file_mb * MIB)
    _lower(resource.RLIMIT_NOFILE, policy.max_open_files)
    _lower(resource.RLIMIT_CORE, 0)
    _lower(resource.RLIMIT_MEMLOCK, 0)
    applied = ["cpu", "nproc", "fsize", "nofile", "core", "memlock"]
    if memory_via_rlimit:
        # RLIMIT_AS breaks torch (virtual size grows per thread); DATA tracks real allocations.
        _lower(resource.RLIMIT_DATA, vm_data_bytes() + policy.memory_mb * MIB)
        applied.append("data")
    return applied


def slot_user(slot: int) -> tuple[int, int] | None:
    """(uid, gid) of system user grader-slot<slot>, or None when it does not exist."""
    try:
        entry = pwd.getpwnam(f"{SLOT_USER_PREFIX}{slot}")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def drop_to(uid: int, gid: int) -> None:
    """Become uid/gid for good: no supplementary groups, all capabilities lost (real+saved too)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid):
        raise OSError(f"uid drop to {uid} did not stick")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def clear_capabilities() -> None:
    """Drop every capability (matters inside a user namespace, where we hold them all)."""
    header = _CapHeader(0x20080522, 0)   # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def die_with_parent(expected_parent: int) -> None:
    """PR_SET_PDEATHSIG=SIGKILL (set after any uid change, which clears it); exit if orphaned."""
    _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)


def not_dumpable() -> None:
    """PR_SET_DUMPABLE=0: no core dumps, /proc/<pid> owned by root, no same-uid ptrace."""
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def become_subreaper() -> bool:
    """PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented to us, so we can reap them."""
    return _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
