"""policy.gpu grants the GPU's device files and /sys, and nothing that holds secrets."""
from __future__ import annotations

import os
from dataclasses import replace

from grader.runner.sandbox import SubprocessLauncher
from grader.runner.sandbox.child import gpu_device_files, wants_gpu
from grader.runner.sandbox.selftest import run

PAYLOAD = "grader.runner.sandbox.selftest:serve"


def test_auto_asks_for_the_gpu_only_where_there_is_one():
    has_nvidia = any(p.startswith("/dev/nvidia") for p in gpu_device_files())
    assert wants_gpu("auto") == has_nvidia
    assert wants_gpu("cuda") and not wants_gpu("cpu")


def test_a_gpu_worker_still_cannot_read_secrets(policy, secret_dir):
    launcher = SubprocessLauncher(replace(policy, cpu_seconds=10, memory_mb=1024, gpu=True), payload=PAYLOAD)
    try:
        answer, status, output = run(launcher, "torch")
        assert status.exit_code == 0, output
        answer, status, output = run(launcher, "read", path="/sys/devices/system/cpu/online")
        assert status.exit_code == 0 and answer["ok"], output
        answer, status, output = run(launcher, "read", path=os.path.join(secret_dir, "solution.py"))
        assert status.exit_code == 0, output
        if launcher.capabilities.landlock_abi >= 1 or launcher.capabilities.uid_drop(1):
            assert not answer["ok"]
        else:
            assert "DEGRADED" in launcher.report()
    finally:
        launcher.close()
