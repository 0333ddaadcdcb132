"""The sandbox policy (what limits a worker gets) and the plain data the launchers return."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..sandbox_api import ExitStatus as _ExitStatus

#: Exit code of a child whose sandbox could not be set up (the reason is on its output fd).
SETUP_FAILED = 121
#: Prefix of the per-slot system users created by scripts/setup-sandbox.sh.
SLOT_USER_PREFIX = "grader-slot"


class SandboxError(RuntimeError):
    """A sandbox could not be started; the message says which layer and why."""


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits and extra read-only paths for one worker (see docs/security.md)."""

    memory_mb: int = 4096          # cgroup memory limit (or RLIMIT_DATA fallback)
    cpu_seconds: int = 60          # RLIMIT_CPU for each process of the worker
    cpus: float = 1.0              # CPU share of the job's whole tree (cgroup quota, root only)
    max_processes: int = 64
    max_open_files: int = 64
    max_file_mb: int = 16
    scratch_mb: int = 64
    readable: tuple[Path, ...] = ()  # extra read-only paths
    exam: bool = False             # refuse to start unless the strong layers are in force
    gpu: bool = False              # grant the NVIDIA device files and /sys (for device="cuda")

    def to_json(self) -> dict:
        """Plain-data form, to cross into the zygote."""
        return {
            "memory_mb": self.memory_mb, "cpu_seconds": self.cpu_seconds, "cpus": self.cpus,
            "max_processes": self.max_processes, "max_open_files": self.max_open_files,
            "max_file_mb": self.max_file_mb, "scratch_mb": self.scratch_mb,
            "readable": [str(p) for p in self.readable], "exam": self.exam, "gpu": self.gpu,
        }

    @classmethod
    def from_json(cls, data: dict) -> "SandboxPolicy":
        """Inverse of to_json."""
        fields = dict(data)
        fields["readable"] = tuple(Path(p) for p in fields.get("readable", ()))
        return cls(**fields)


# One exit-status type for every launcher (it knows how to describe itself to a student).
ExitStatus = _ExitStatus


def grader_root() -> Path:
    """The directory holding the `grader` package (put on the child's sys.path)."""
    return Path(__file__).resolve().parents[3]


def python_paths() -> list[str]:
    """Interpreter prefixes, the interpreter, and sys.path entries inside them or named site-packages.

    Other sys.path entries (the current directory, a project root added by an editable
    install) are left out on purpose: they may hold solutions/ or submissions.
    """
    prefixes: list[str] = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        real = os.path.realpath(p)
        if os.path.isdir(real) and real not in prefixes:
            prefixes.append(real)
    found = list(prefixes)
    for entry in sys.path:
        if not entry:
            continue
        real = os.path.realpath(entry)
        inside = any(real == p or real.startswith(p + os.sep) for p in prefixes)
        named = os.path.basename(real) in ("site-packages", "dist-packages")
        if (inside or named) and os.path.exists(real) and real not in found:
            found.append(real)
    exe = os.path.realpath(sys.executable)
    if exe not in found:
        found.append(exe)
    return found


def default_readable(policy: SandboxPolicy) -> tuple[str, ...]:
    """System dirs + python + the grader package + the policy's extra paths, deduplicated."""
    system = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc/ld.so.cache", "/etc/localtime",
              "/proc", "/sys/devices/system/cpu", "/dev/urandom", "/dev/random", "/dev/zero"]
    candidates = system + python_paths() + [str(grader_root() / "grader")]
    candidates += [str(p) for p in policy.readable]
    out: list[str] = []
    for p in candidates:
        real = os.path.realpath(p)
        if os.path.exists(real) and real not in out:
            out.append(real)
    return tuple(out)
