"""Killing a job's whole process tree, including setsid'd double-fork daemons.

In order of preference: the job's cgroup (v2 `cgroup.kill`, or a kill loop over a v1
cgroup the job cannot leave); as root without cgroups, every process of the job's slot
uid (a helper that becomes that uid and calls kill(-1)); otherwise the job's session.
"""
from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable

from .cgroups import JobCgroup


def uid_pids(uid: int) -> list[int]:
    """Live pids whose real uid is uid (scan of /proc); zombies are left out: no signal reaches them."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                zombie = False
                for line in f:
                    if line.startswith("State:"):
                        zombie = line.split()[1] in ("Z", "X")
                    elif line.startswith("Uid:"):
                        if int(line.split()[1]) == uid and not zombie:
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            pass
    return found


def kill_uid(uid: int, timeout: float = 2.0, on_exit: OnExit | None = None) -> bool:
    """SIGKILL every process of uid (root only): a helper becomes uid and kills -1, until none is left."""
    deadline = time.monotonic() + timeout
    while uid_pids(uid):
        pid = os.fork()
        if pid == 0:
            try:
                os.setresgid(65534, 65534, 65534)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)    # everything this uid may signal, never ourselves
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        if on_exit is not None:
            reap_orphans(on_exit)
        if time.monotonic() > deadline:
            return False
    return True


OnExit = Callable[[int, int, Any], None]


def reap_orphans(on_exit: OnExit | None = None) -> int:
    """Reap every exited child (we are a subreaper, so orphans land here); on_exit(pid, status, rusage)."""
    count = 0
    while True:
        try:
            pid, status, rusage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return count
        if pid == 0:
            return count
        count += 1
        if on_exit is not None:
            on_exit(pid, status, rusage)


def kill_tree(leader: int, *, cgroup: JobCgroup | None, uid: int | None,
              reap: bool, on_exit: OnExit | None = None) -> None:
    """Kill the job's tree by the strongest means available; reap orphans when we are their reaper.

    The leader is killed directly too: it may not have joined its cgroup yet.
    """
    try:
        os.kill(leader, signal.SIGKILL)   # our own unreaped child: its pid cannot have been reused
    except ProcessLookupError:
        pass
    if cgroup is not None:
        cgroup.kill()
    elif uid is not None:
        kill_uid(uid, on_exit=on_exit if reap else None)
    else:
        for target in (lambda: os.killpg(leader, signal.SIGKILL), lambda: os.kill(leader, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass
    if cgroup is not None:
        deadline = time.monotonic() + 2.0
        while cgroup.pids() and time.monotonic() < deadline:
            if reap:
                reap_orphans(on_exit)
            cgroup.kill()
            time.sleep(0.001)
    if reap:
        reap_orphans(on_exit)
    elif uid is None and cgroup is None:
        time.sleep(0)  # nothing to reap here: the caller waits for its own leader
