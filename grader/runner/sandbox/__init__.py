"""Sandboxed worker processes: layered isolation (cgroups, namespaces, rlimits, uid, Landlock,
seccomp) and the launchers that start workers under it. See docs/security.md."""
from .launcher import Launcher, SubprocessLauncher, WorkerHandle, ZygoteLauncher
from .policy import SETUP_FAILED, ExitStatus, SandboxError, SandboxPolicy

__all__ = ["ExitStatus", "Launcher", "SETUP_FAILED", "SandboxError", "SandboxPolicy",
           "SubprocessLauncher", "WorkerHandle", "ZygoteLauncher"]
