"""Detect, once at start-up, which isolation layers this machine offers.

`probe(verify=False)` uses only cheap checks (it is on the latency path of `grader check`);
`probe(verify=True)` also forks a throw-away child that really enters the namespaces and
loads the filters. Only a single-threaded process (the zygote) should verify.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from . import cgroups, landlock, namespaces, seccomp_filter
from .limits import slot_user
from .policy import SLOT_USER_PREFIX, SandboxPolicy, default_readable


@dataclass(frozen=True)
class Capabilities:
    """What was found; `missing(...)` turns it into the reasons a STRONG sandbox is impossible."""

    root: bool
    cgroup: cgroups.CgroupSupport = field(default_factory=cgroups.CgroupSupport)
    namespaces: bool = False          # net+mount+ipc+uts (through a user namespace when not root)
    landlock_abi: int = 0
    seccomp: str | None = "not probed"   # None = available, else why not
    slot_users: tuple[int, ...] = ()  # slots whose grader-slot<k> user exists (root only)
    interpreter_readable: bool = True  # the slot uid can read the interpreter (directly or re-exposed)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """Plain data, for the zygote's hello message."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Capabilities":
        """Inverse of to_json."""
        data = dict(data)
        data["cgroup"] = cgroups.CgroupSupport(**data["cgroup"])
        data["slot_users"] = tuple(data["slot_users"])
        data["notes"] = tuple(data["notes"])
        return cls(**data)

    def uid_drop(self, slots: int) -> bool:
        """Each of `slots` parallel jobs can run as its own (leased) unprivileged user."""
        return self.root and self.interpreter_readable and len(self.slot_users) >= slots

    def missing(self, slots: int) -> list[str]:
        """Strong layers that are not in force, each with how to get it."""
        out = []
        if self.landlock_abi < 1:
            out.append("landlock (kernel >= 5.13 with landlock in the lsm= list)")
        elif self.landlock_abi < 4:
            out.append(f"landlock TCP rules (ABI {self.landlock_abi} < 4, kernel >= 6.7)")
        if self.seccomp is not None:
            out.append(f"seccomp ({self.seccomp})")
        if not self.namespaces:
            out.append("namespaces (unprivileged user namespaces are disabled)")
        if self.root:
            if not self.cgroup.memory or not self.cgroup.pids:
                out.append("cgroup memory+pids limits (no writable v1 or v2 controllers)")
            if not self.uid_drop(slots):
                why = ("interpreter not readable by slot users" if not self.interpreter_readable else
                       f"{slots} slot users ({SLOT_USER_PREFIX}<k>) needed, {len(self.slot_users)} leased: "
                       "run scripts/setup-sandbox.sh")
                out.append(f"per-slot uid ({why})")
        else:
            if self.landlock_abi < 6:
                out.append("signal scoping (landlock ABI >= 6; not root, so no separate uid)")
        return out

    def report(self, slots: int, *, uid_label: str) -> str:
        """One line: layers in force and the resulting level."""
        parts = ["root" if self.root else f"user {os.getuid()}"]
        if self.root:
            parts.append(f"cgroup={self.cgroup.describe()}")
        parts.append(("netns" if self.root else "userns+netns") if self.namespaces else "no-netns")
        parts.append(f"landlock={self.landlock_abi}" if self.landlock_abi else "no-landlock")
        parts.append("seccomp" if self.seccomp is None else "no-seccomp")
        parts.append(f"uid={uid_label}")
        parts.append("rlimits")
        missing = self.missing(slots)
        level = "STRONG" if not missing else "DEGRADED (missing: " + "; ".join(missing) + ")"
        return "sandbox: " + ", ".join(parts) + " -> " + level


def _userns_allowed() -> bool:
    def read(path: str, default: str) -> str:
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return default
    return (read("/proc/sys/user/max_user_namespaces", "1") != "0"
            and read("/proc/sys/kernel/unprivileged_userns_clone", "1") != "0"
            and read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0") != "1")


def _fork_test(fn) -> bool:
    """Run fn() in a forked child; True if it returned without raising."""
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _try_namespaces(root: bool) -> None:
    flags = namespaces.CLONE_NEWNET | namespaces.CLONE_NEWNS | namespaces.CLONE_NEWIPC | namespaces.CLONE_NEWUTS
    if root:
        namespaces.unshare(flags)
    else:
        namespaces.enter_user_namespace(flags)
    namespaces.private_mounts()
    namespaces.mount_scratch(1, os.getuid(), os.getgid())


def _try_seccomp() -> None:
    seccomp_filter.load()


def probe(policy: SandboxPolicy | None = None, *, slots: int = 1, verify: bool = False,
          slot_ids: list[int] | None = None) -> Capabilities:
    """Detect the layers; verify=True confirms namespaces and seccomp in a forked child.

    `slot_ids` are the slots this grader leased (default 0..slots-1).
    """
    policy = policy or SandboxPolicy()
    root = os.geteuid() == 0
    notes: list[str] = []
    abi = landlock.abi_version()
    sec = seccomp_filter.available()
    ns = root or _userns_allowed()
    if verify and ns:
        ns = _fork_test(lambda: _try_namespaces(root))
        if not ns:
            notes.append("unshare of net/mount namespaces failed")
    if verify and sec is None and not _fork_test(_try_seccomp):
        sec = "loading a filter failed"
    cg = cgroups.probe() if root else cgroups.CgroupSupport()
    ids = slot_ids if slot_ids is not None else range(max(slots, 1))
    users = tuple(s for s in ids if slot_user(s) is not None) if root else ()
    readable = True
    if root:
        hidden = namespaces.hidden_paths(default_readable(policy))
        readable = not hidden or ns      # re-exposed through the mount namespace
        if hidden:
            notes.append("interpreter re-exposed from " + ", ".join(hidden))
    return Capabilities(root=root, cgroup=cg, namespaces=ns, landlock_abi=abi, seccomp=sec,
                        slot_users=users, interpreter_readable=readable, notes=tuple(notes))
