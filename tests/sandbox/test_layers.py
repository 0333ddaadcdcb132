"""Hostile payloads run in a real sandboxed child, through both launchers.

Each assertion is conditional on what the probe found, never skipped: where a layer is
missing, the report must say so (the degraded case), and the attack outcome is not asserted.
"""
from __future__ import annotations

import json
import os
import select
import signal

from grader.runner.sandbox import reaper
from grader.runner.sandbox.selftest import run



def caps(launcher):
    return launcher.capabilities


def fs_confined(launcher) -> bool:
    c = caps(launcher)
    return c.landlock_abi >= 1 or c.uid_drop(2)


def test_report_lists_layers(launcher):
    line = launcher.report()
    c = caps(launcher)
    assert line.startswith("sandbox: ")
    assert ("landlock=" in line) == (c.landlock_abi > 0)
    assert ("no-seccomp" in line) == (c.seccomp is not None)
    assert "rlimits" in line
    if c.root:
        assert f"cgroup={c.cgroup.describe()}" in line
    missing = c.missing(2 if launcher.__class__.__name__ == "ZygoteLauncher" else 1)
    assert line.endswith("-> STRONG") == (not missing)
    for reason in missing:
        assert reason in line


def test_torch_works_inside(launcher):
    answer, status, output = run(launcher, "torch")
    assert status.exit_code == 0, output
    assert answer == {"conv": 324.0, "matmul": 64.0, "np": 3.0}


def test_only_protocol_fds_and_clean_env(launcher):
    answer, status, output = run(launcher, "ping")
    assert status.exit_code == 0, output
    assert answer["fds"][:5] == [0, 1, 2, 3, 4] and len(answer["fds"]) <= 6   # +1: the listing itself
    assert "GRADER_SANDBOX_PLAN" not in answer["env"]
    if caps(launcher).uid_drop(1):
        assert answer["uid"] != 0


def test_root_only_file_is_unreadable(launcher, secret_dir):
    answer, status, output = run(launcher, "read", path=os.path.join(secret_dir, "solution.py"))
    assert status.exit_code == 0, output
    if fs_confined(launcher):
        # Refused ("Permission denied") or hidden ("No such file", when the checkout sits in a private
        # parent that the job's mount namespace covers): either way its content never reaches the worker.
        assert not answer["ok"] and "SECRET" not in json.dumps(answer) + output
        assert "Permission denied" in answer["error"] or "No such file" in answer["error"]
    else:
        assert "DEGRADED" in launcher.report()


def test_project_files_outside_the_grader_package_are_unreadable(launcher):
    course = os.path.join(os.path.dirname(__file__), "..", "..", "course.toml")
    answer, status, output = run(launcher, "read", path=os.path.realpath(course))
    assert status.exit_code == 0, output
    if caps(launcher).landlock_abi >= 1:
        assert not answer["ok"]
    else:
        assert "no-landlock" in launcher.report()


def test_writes_only_in_scratch(launcher, secret_dir):
    outside, status, output = run(launcher, "write", path=os.path.join(secret_dir, "gradebook.csv"))
    assert status.exit_code == 0, output
    inside, _, _ = run(launcher, "write", path="notes.txt")      # cwd is the scratch dir
    assert inside == {"ok": True}
    if fs_confined(launcher):
        assert not outside["ok"]
        assert not os.path.exists(os.path.join(secret_dir, "gradebook.csv"))
    else:
        assert "DEGRADED" in launcher.report()


def test_scratch_is_size_capped(zygote, policy):
    answer, status, output = run(zygote, "fill_scratch")
    assert status.exit_code == 0, output
    if caps(zygote).namespaces:
        assert answer["mb"] <= policy.scratch_mb and "No space left" in answer["error"]
    else:
        assert "no-netns" in zygote.report()


def test_tcp_to_a_loopback_listener_never_connects(launcher, listener):
    sock, port = listener
    answer, status, output = run(launcher, "connect", port=port)
    assert status.exit_code == 0, output
    c = caps(launcher)
    if c.seccomp is None or c.namespaces or c.landlock_abi >= 4:
        assert answer["tcp"] != "connected"
        assert not select.select([sock], [], [], 0)[0], "the listener saw a connection"
    else:
        assert "DEGRADED" in launcher.report()
    if c.seccomp is None:
        assert answer["raw_socket"] == "EACCES"


def test_exec_is_denied(launcher):
    answer, status, _ = run(launcher, "exec")
    if caps(launcher).seccomp is None:
        assert not answer["ok"] and "Operation not permitted" in answer["error"]
    else:
        assert "no-seccomp" in launcher.report()


def test_fork_bomb_is_contained(zygote, policy):
    answer, status, output = run(zygote, "fork_bomb", n=300)
    assert status.exit_code == 0, output
    assert answer["forked"] < policy.max_processes and answer["failed"] > 0
    again, status, _ = run(zygote, "torch")                       # the next job starts normally
    assert status.exit_code == 0 and again["conv"] == 324.0


def test_memory_bomb_is_contained(zygote, policy):
    answer, status, output = run(zygote, "memory_bomb")
    if caps(zygote).cgroup.memory:
        assert status.oom_killed or (answer and answer["stopped"] == "MemoryError"), (status, output)
    else:
        assert answer["stopped"] == "MemoryError" and answer["mb"] <= policy.memory_mb + 64


def test_cpu_loop_is_killed(zygote):
    answer, status, _ = run(zygote, "cpu_loop", timeout=20)
    assert answer is None
    assert status.signal in (signal.SIGKILL, signal.SIGXCPU)


def test_killing_the_parent_and_everyone_fails(launcher):
    c = caps(launcher)
    if not (c.uid_drop(1) or c.landlock_abi >= 6 or c.namespaces and not c.root):
        assert "DEGRADED" in launcher.report()    # kill(-1) would reach the grader: not tried
        return
    answer, status, output = run(launcher, "kill_parent")
    assert status.exit_code == 0, output
    again, status, _ = run(launcher, "ping")                      # zygote (or grader) still serves
    assert status.exit_code == 0 and again is not None


def test_new_user_namespace_is_denied(zygote):
    answer, _, _ = run(zygote, "userns")
    if caps(zygote).seccomp is None:
        assert answer["errno"] == "EPERM"


def test_setsid_daemon_dies_with_kill(launcher):
    to_r, to_w = os.pipe()
    out_r, out_w = os.pipe()
    output_r, output_w = os.pipe()
    handle = launcher.start(in_fd=to_r, out_fd=out_w, output_fd=output_w, slot=1 if
                            launcher.__class__.__name__ == "ZygoteLauncher" else 0)
    for fd in (to_r, out_w, output_w):
        os.close(fd)
    os.write(to_w, json.dumps({"case": "daemon", "linger": True}).encode())
    os.close(to_w)
    assert select.select([out_r], [], [], 20)[0], "no answer from the payload"
    assert json.loads(os.read(out_r, 4096)) == {"daemon": "started"}
    handle.kill()
    status = handle.poll()
    assert status is not None and status.signal == signal.SIGKILL
    # The daemon inherited the result pipe's write end: EOF means it is dead too.
    assert select.select([out_r], [], [], 10)[0], "a process of the job still holds the pipe"
    assert os.read(out_r, 4096) == b""
    leases = getattr(launcher, "leases", [])
    if caps(launcher).uid_drop(1) and leases:    # the slot user this job ran as (leased by the launcher)
        uid = leases[1 if launcher.__class__.__name__ == "ZygoteLauncher" else 0].uid
        assert reaper.uid_pids(uid) == []
    for fd in (out_r, output_r):
        os.close(fd)


def test_two_slots_run_at_once(zygote):
    pipes = []
    for slot in (0, 1):
        to_r, to_w = os.pipe()
        out_r, out_w = os.pipe()
        output_r, output_w = os.pipe()
        handle = zygote.start(in_fd=to_r, out_fd=out_w, output_fd=output_w, slot=slot)
        for fd in (to_r, out_w, output_w):
            os.close(fd)
        pipes.append((handle, to_w, out_r, output_r))
    for handle, to_w, out_r, output_r in pipes:
        os.write(to_w, b'{"case": "ping"}')
        os.close(to_w)
        assert handle.wait(20).exit_code == 0
        assert json.loads(os.read(out_r, 65536))["cwd"]
        os.close(out_r)
        os.close(output_r)


def test_busy_slot_is_refused(zygote):
    import pytest
    from grader.runner.sandbox import SandboxError
    to_r, to_w = os.pipe()
    out_r, out_w = os.pipe()
    handle = zygote.start(in_fd=to_r, out_fd=out_w, output_fd=out_w, slot=0)
    with pytest.raises(SandboxError, match=r"slot \d+ is busy"):   # index 0 is whichever slot was leased
        zygote.start(in_fd=to_r, out_fd=out_w, output_fd=out_w, slot=0)
    handle.kill()
    for fd in (to_r, to_w, out_r, out_w):
        os.close(fd)
