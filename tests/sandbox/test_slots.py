"""Slot leases: graders sharing a machine get distinct slot users and never touch each other's workers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from grader.runner.sandbox import slots
from grader.runner.sandbox.limits import slot_user
from grader.runner.sandbox.policy import SandboxError

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or slot_user(2) is None,
                                reason="slot users are a root feature (run scripts/setup-sandbox.sh as root)")


@pytest.fixture
def run_dir():
    """The machine's own lease directory: a private one would let these tests kill other graders' workers,
    since a lease is what makes a slot's processes ours to clean up. Other graders may hold slots meanwhile."""
    return slots.run_dir()


def _sleeper_as(uid: int) -> subprocess.Popen:
    """A process running as uid (as a student's leftover daemon would)."""
    return subprocess.Popen(["/bin/sleep", "60"], user=uid, group=65534,
                            extra_groups=[], start_new_session=True)


def _alive(proc: subprocess.Popen) -> bool:
    return proc.poll() is None


def test_two_holders_get_distinct_slots(run_dir):
    first = slots.lease_slots(2)
    second = slots.lease_slots(2)
    try:
        mine, theirs = {lease.slot for lease in first}, {lease.slot for lease in second}
        assert len(mine) == len(theirs) == 2 and not mine & theirs
    finally:
        slots.release_all(first + second)


def test_a_released_slot_can_be_leased_again(run_dir):
    first = slots.lease_slots(1)
    slot = first[0].slot
    slots.release_all(first)
    again = slots.lease_slots(1, wait=60, among=[slot])   # another grader may use it a moment first
    try:
        assert again[0].slot == slot
    finally:
        slots.release_all(again)


def test_when_every_slot_is_leased_it_waits_then_says_so(run_dir):
    # Other graders (and this suite's own launchers) may hold slots for long: limit the pool to ours.
    ours = slots.lease_slots(3)
    told = []
    try:
        started = time.monotonic()
        with pytest.raises(SandboxError, match="in use by other graders.*gave up after 0.5 s"):
            slots.lease_slots(1, wait=0.5, on_wait=told.append, among=[lease.slot for lease in ours])
        assert time.monotonic() - started >= 0.5
        assert len(told) == 1 and "waiting" in told[0]
    finally:
        slots.release_all(ours)


def test_it_waits_for_a_slot_that_becomes_free(run_dir):
    ours = slots.lease_slots(1)
    slot = ours[0].slot
    holder = subprocess.Popen([sys.executable, "-c", f"""
from grader.runner.sandbox import slots
lease = slots.lease_slots(1, wait=30, among=[{slot}])
print(lease[0].slot, flush=True)
"""], stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        time.sleep(0.5)
        assert holder.poll() is None          # still waiting: the slot is ours
        slots.release_all(ours)
        out, _ = holder.communicate(timeout=60)
        assert int(out) == slot
    finally:
        slots.release_all(ours)
        if holder.poll() is None:
            holder.kill()


def test_live_owners_processes_are_never_touched(run_dir):
    ours = slots.lease_slots(1)
    victim = _sleeper_as(ours[0].uid)
    try:
        others = slots.lease_slots(3)        # another grader on the machine takes slots of its own
        slots.release_all(others)
        time.sleep(0.2)
        assert _alive(victim)
    finally:
        victim.kill()
        victim.wait()
        slots.release_all(ours)


def test_a_dead_owners_leftovers_are_killed_by_the_next_lease(run_dir):
    owner = subprocess.Popen([sys.executable, "-c", """
import sys, time
from grader.runner.sandbox import slots
lease = slots.lease_slots(1)
print(lease[0].slot, lease[0].uid, flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    slot, uid = (int(x) for x in owner.stdout.readline().split())
    leftover = _sleeper_as(uid)
    try:
        owner.send_signal(signal.SIGKILL)    # the grader dies; its worker is left behind
        owner.wait()
        assert _alive(leftover)
        lease = slots.lease_slots(1, wait=60, among=[slot])   # whoever leases it first kills the leftover
        try:
            assert lease[0].slot == slot
            assert leftover.wait(5) is not None
        finally:
            slots.release_all(lease)
    finally:
        if _alive(leftover):
            leftover.kill()
            leftover.wait()


def test_lease_directory_must_be_private(tmp_path, monkeypatch):
    folder = tmp_path / "open"
    folder.mkdir()
    os.chmod(folder, 0o777)
    monkeypatch.setenv(slots.RUN_DIR_ENV, str(folder))
    with pytest.raises(SandboxError, match="only it can write"):
        slots.lease_slots(1)
