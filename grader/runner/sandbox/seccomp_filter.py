"""A default-allow seccomp filter (pyseccomp) that denies sockets and the escape hatches.

Default allow keeps numpy/torch working; the deny list is the kernel surface a grading
worker never needs (exec, ptrace, namespaces, mounts, uid changes, bpf, io_uring, ...).
"""
from __future__ import annotations

import errno

#: Denied with EPERM. Names unknown to this architecture's libseccomp are skipped.
DENY_EPERM: tuple[str, ...] = (
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr",
    "fsopen", "fsmount", "fsconfig", "fspick", "move_mount", "open_tree",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "personality",
    "open_by_handle_at", "name_to_handle_at", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "setfsuid", "setfsgid", "setgroups", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "syslog",
)
_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4


def available() -> str | None:
    """None when a filter can be built here, else the reason it cannot."""
    try:
        import pyseccomp  # noqa: F401
    except Exception as exc:  # ImportError, or OSError when libseccomp is missing
        return f"pyseccomp unavailable ({exc.__class__.__name__}: {exc})"
    return None


def load() -> None:
    """Build and load the filter into the calling process (sets no_new_privs itself)."""
    import pyseccomp as sc

    f = sc.SyscallFilter(defaction=sc.ALLOW)
    f.add_rule(sc.ERRNO(errno.EACCES), "socket")
    for name in DENY_EPERM:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except (ValueError, RuntimeError, OSError):
            pass  # syscall not known on this architecture
    for bit in (_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET):
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, bit, bit))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")   # glibc falls back to clone, whose flags we can see
    for option in (_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE):
        f.add_rule(sc.ERRNO(errno.EPERM), "prctl", sc.Arg(0, sc.EQ, option))
    f.load()
