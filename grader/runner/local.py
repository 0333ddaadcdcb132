"""Start a worker as a fresh local process (the path `grader check` takes).

The worker gets its own session (so its whole process group can be killed),
rlimits on memory, file size and core dumps, one torch thread, and no stdin.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from .sandbox_api import ExitStatus


@dataclass(frozen=True)
class LocalPolicy:
    memory_mb: int = 4096
    max_file_mb: int = 64


class LocalHandle:
    """A worker started with subprocess; kill() ends its whole process group."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.pid = proc.pid

    def poll(self) -> ExitStatus | None:
        code = self.proc.poll()
        return None if code is None else _status(code)

    def wait(self, timeout: float | None) -> ExitStatus | None:
        try:
            return _status(self.proc.wait(timeout))
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class LocalLauncher:
    """Launcher for one student's checks on their own machine."""

    def __init__(self, policy: LocalPolicy | None = None) -> None:
        self.policy = policy or LocalPolicy()

    def start(self, *, in_fd: int, out_fd: int, output_fd: int, slot: int = 0) -> LocalHandle:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_", "PYTHONSTARTUP"))}
        env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
        policy = self.policy

        def limit() -> None:
            mem = policy.memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
            size = policy.max_file_mb * 2**20
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        proc = subprocess.Popen(
            [sys.executable, "-m", "grader.runner.worker", str(in_fd), str(out_fd)],
            pass_fds=(in_fd, out_fd), stdin=subprocess.DEVNULL, stdout=output_fd, stderr=output_fd,
            start_new_session=True, preexec_fn=limit, env=env,
        )
        return LocalHandle(proc)

    def report(self) -> str:
        return "sandbox: separate process, own session, rlimits (data, fsize, core)"

    def close(self) -> None:
        """Nothing to release."""


def _status(code: int) -> ExitStatus:
    if code < 0:
        return ExitStatus(exit_code=None, signal=-code)
    return ExitStatus(exit_code=code, signal=None)


def wait_gone(handle: LocalHandle, seconds: float) -> None:
    """Wait up to seconds for the worker to exit by itself, then kill it."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and handle.poll() is None:
        time.sleep(0.01)
    handle.kill()
