"""Exam-mode refusal and the report line, from probe results (no child needed)."""
from __future__ import annotations

import dataclasses

import pytest

from grader.runner.sandbox import SandboxError, SandboxPolicy, SubprocessLauncher, launcher as launcher_mod
from grader.runner.sandbox.cgroups import CgroupSupport
from grader.runner.sandbox.probe import Capabilities

STRONG_ROOT = Capabilities(root=True, cgroup=CgroupSupport(memory_v1="/m", pids_v1="/p", unified="/u",
                                                           v2_kill=True),
                           namespaces=True, landlock_abi=7, seccomp=None, slot_users=(0, 1))


def test_strong_root_report():
    line = STRONG_ROOT.report(2, uid_label="grader-slot0..1")
    assert line == ("sandbox: root, cgroup=v1+v2kill, netns, landlock=7, seccomp, uid=grader-slot0..1,"
                    " rlimits -> STRONG")


@pytest.mark.parametrize("change, named", [
    ({"landlock_abi": 0}, "landlock"),
    ({"seccomp": "pyseccomp unavailable"}, "seccomp"),
    ({"namespaces": False}, "namespaces"),
    ({"slot_users": (0,)}, "2 slot users (grader-slot<k>) needed, 1 leased: run scripts/setup-sandbox.sh"),
    ({"cgroup": CgroupSupport()}, "cgroup memory+pids"),
])
def test_missing_layer_is_named(change, named):
    caps = dataclasses.replace(STRONG_ROOT, **change)
    line = caps.report(2, uid_label="x")
    assert "DEGRADED" in line and named in line


def test_exam_mode_refuses_a_weak_sandbox(monkeypatch):
    weak = dataclasses.replace(STRONG_ROOT, landlock_abi=0)
    monkeypatch.setattr(launcher_mod, "probe", lambda *a, **k: weak)
    with pytest.raises(SandboxError, match="exam mode refuses.*landlock"):
        SubprocessLauncher(SandboxPolicy(exam=True))
    SubprocessLauncher(SandboxPolicy(exam=False))          # outside exam mode: runs, report says DEGRADED


def test_exam_mode_starts_when_strong(fresh):
    strong = not fresh.capabilities.missing(1)
    if strong:
        SubprocessLauncher(SandboxPolicy(exam=True)).close()
    else:
        with pytest.raises(SandboxError, match="missing"):
            SubprocessLauncher(SandboxPolicy(exam=True))
