"""Leasing the per-slot sandbox users, so that graders sharing a machine never touch each other.

A root grader runs each job as one of the system users `grader-slot<k>`. Several graders
may run on one machine at once (two batches, a TA's re-grade, many `grader check`s, CI), so
each slot is *leased*: an exclusive `flock` on `<run dir>/slots/<k>.lease`, held by the
grader process for as long as it uses the slot. The kernel drops the lock when its holder
dies, so a slot whose lock can be taken belongs to nobody: processes still running as its
uid were left by a dead owner, and only then are they killed. A grader never signals a uid
it has not leased, and when every slot is leased it waits or says so; it never steals.
"""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from dataclasses import dataclass
from typing import Callable

from . import reaper
from .limits import slot_user
from .policy import SandboxError

RUN_DIR_ENV = "GRADER_RUN_DIR"
DEFAULT_RUN_DIR = "/run/dl-grader"
MAX_SLOTS = 4096
POLL_SECONDS = 0.2


def run_dir() -> str:
    """Where lease files live: $GRADER_RUN_DIR, else /run/dl-grader."""
    return os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR


def existing_slots() -> list[int]:
    """Slots 0..N-1 whose user grader-slot<k> exists (contiguous from 0)."""
    found = []
    for k in range(MAX_SLOTS):
        if slot_user(k) is None:
            break
        found.append(k)
    return found


def _private_dir(path: str) -> str:
    """Create (or check) a root-owned directory that nobody else can write; refuse anything else."""
    try:
        os.makedirs(path, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise SandboxError(f"cannot create the slot lease directory {path}: {exc.strerror}") from exc
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxError(f"{path} must be a directory owned by uid {os.geteuid()} that only it can write "
                           f"(set {RUN_DIR_ENV} to another place)")
    return path


@dataclass
class Lease:
    """One leased slot: the lock is held while `fd` is open."""

    slot: int
    uid: int
    fd: int

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        if self.fd >= 0:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = -1


def _try_lease(folder: str, slot: int) -> Lease | None:
    user = slot_user(slot)
    if user is None:
        return None
    path = os.path.join(folder, f"{slot}.lease")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    lease = Lease(slot, user[0], fd)
    # Nobody else holds this slot, so whatever still runs as its uid was left by a dead owner.
    reaper.kill_uid(lease.uid)
    return lease


def holders(folder: str | None = None) -> list[int]:
    """Pids that hold slot leases now (for messages)."""
    folder = folder or os.path.join(run_dir(), "slots")
    pids = []
    try:
        names = os.listdir(folder)
    except OSError:
        return pids
    for name in names:
        try:
            with open(os.path.join(folder, name), "rb") as f:
                text = f.read(32).strip()
            if text.isdigit():
                pids.append(int(text))
        except OSError:
            pass
    return sorted(set(pids))


def lease_slots(count: int, *, wait: float = 600.0, on_wait: Callable[[str], None] | None = None,
                among: list[int] | None = None) -> list[Lease]:
    """Lease up to `count` free slots, at least one; wait up to `wait` seconds for the first.

    `among` limits the slots tried (default: every slot user of the machine). Raises
    SandboxError when no slot user exists or none became free in time.
    """
    slots = existing_slots() if among is None else [k for k in among if slot_user(k) is not None]
    if not slots:
        raise SandboxError("no sandbox slot users exist (run scripts/setup-sandbox.sh as root)")
    folder = _private_dir(os.path.join(_private_dir(run_dir()), "slots"))
    deadline = time.monotonic() + wait
    told = False
    while True:
        leases: list[Lease] = []
        for slot in slots:
            if len(leases) >= count:
                break
            lease = _try_lease(folder, slot)
            if lease is not None:
                leases.append(lease)
        if leases:
            return leases
        busy = f"all {len(slots)} sandbox slots are in use by other graders (pids {', '.join(map(str, holders(folder)))})"
        if time.monotonic() >= deadline:
            raise SandboxError(f"{busy}; gave up after {wait:g} s. Add slots with "
                               f"`scripts/setup-sandbox.sh {2 * len(slots)}` or try again later")
        if on_wait is not None and not told:
            on_wait(f"{busy}; waiting for one to become free")
            told = True
        time.sleep(POLL_SECONDS)


def release_all(leases: list[Lease]) -> None:
    """Release every lease in the list."""
    for lease in leases:
        lease.release()
