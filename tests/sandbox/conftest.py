"""Fixtures for the sandbox tests: one zygote per module, a fresh-process launcher, a secret."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from grader.runner.sandbox import SandboxPolicy, SubprocessLauncher, ZygoteLauncher

PAYLOAD = "grader.runner.sandbox.selftest:serve"
# Small limits keep the hostile cases quick (the CPU loop burns cpu_seconds + 1).
POLICY = SandboxPolicy(memory_mb=256, cpu_seconds=1, max_processes=32, max_open_files=64,
                       max_file_mb=16, scratch_mb=32)


@pytest.fixture(scope="session")
def policy() -> SandboxPolicy:
    return POLICY


@pytest.fixture(scope="session")
def zygote():
    launcher = ZygoteLauncher(POLICY, workers=2, payload=PAYLOAD)
    yield launcher
    launcher.close()


@pytest.fixture(scope="session")
def fresh():
    # A fresh interpreter pays for `import torch` (about 3 s of CPU here) out of its own budget.
    launcher = SubprocessLauncher(replace(POLICY, cpu_seconds=10, memory_mb=1024), payload=PAYLOAD)
    yield launcher
    launcher.close()


@pytest.fixture(params=["zygote", "fresh"])
def launcher(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def secret_dir():
    """A 0700 directory with a 0600 file beside the course's own solutions/ (never a scratch candidate)."""
    base = Path(__file__).resolve().parents[2]
    path = tempfile.mkdtemp(prefix=".grader-secret-", dir=base)
    os.chmod(path, 0o700)
    with open(os.path.join(path, "solution.py"), "w") as f:
        f.write("SECRET REFERENCE SOLUTION\n")
    os.chmod(os.path.join(path, "solution.py"), 0o600)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def listener():
    """A loopback TCP listener owned by the test; yields (socket, port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.setblocking(False)
    yield s, s.getsockname()[1]
    s.close()
