"""Types shared by every way of starting a worker."""
from __future__ import annotations

import os
import signal as _signal
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int | None
    signal: int | None
    oom_killed: bool = False
    cpu_seconds: float | None = None

    @classmethod
    def from_wait(cls, status: int, rusage=None, oom_killed: bool = False) -> "ExitStatus":  # noqa: ANN001
        """Build from an os.wait4 status word and resource usage."""
        cpu = (rusage.ru_utime + rusage.ru_stime) if rusage is not None else 0.0
        if os.WIFSIGNALED(status):
            return cls(None, os.WTERMSIG(status), oom_killed, cpu)
        return cls(os.WEXITSTATUS(status), None, oom_killed, cpu)

    def to_json(self) -> dict:
        """Plain-data form, for the zygote's status messages."""
        return {"exit_code": self.exit_code, "signal": self.signal,
                "oom_killed": self.oom_killed, "cpu_seconds": self.cpu_seconds}

    def describe(self) -> str:
        """Say in words how the worker ended, for a student's feedback."""
        if self.oom_killed:
            return "was killed for using more memory than allowed"
        if self.signal is not None:
            known = {
                _signal.SIGSEGV: "crashed with a segmentation fault",
                _signal.SIGKILL: "was killed (SIGKILL; out of memory or killed from inside?)",
                _signal.SIGXCPU: "used up its CPU time",
                _signal.SIGABRT: "aborted (SIGABRT)",
                _signal.SIGBUS: "crashed with a bus error",
            }
            try:
                name = _signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return known.get(self.signal, f"was stopped by {name}")
        return f"exited with code {self.exit_code} (os._exit or sys.exit in your code?)"


class WorkerHandle(Protocol):
    pid: int

    def poll(self) -> ExitStatus | None: ...

    def wait(self, timeout: float | None) -> ExitStatus | None: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    def start(self, *, in_fd: int, out_fd: int, output_fd: int, slot: int) -> WorkerHandle: ...

    def report(self) -> str: ...

    def close(self) -> None: ...
