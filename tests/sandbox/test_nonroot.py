"""The unprivileged tier (a student's laptop): run the launchers as a non-root user.

Needs root here to become that user, and an interpreter the user can execute; the course
VMs have both (Debian's /usr/bin/python3 is the same 3.11 as the venv). Elsewhere the test
checks only that the report of the current user is honest.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys

from grader.runner.sandbox import SubprocessLauncher
from grader.runner.sandbox.policy import SandboxPolicy, grader_root

SCRIPT = r"""
import json, os, sys
from grader.runner.sandbox import SandboxPolicy, SubprocessLauncher, ZygoteLauncher
from grader.runner.sandbox.selftest import run
policy = SandboxPolicy(memory_mb=1024, cpu_seconds=10, max_processes=32)
out = {}
for name, make in (("fresh", lambda: SubprocessLauncher(policy, payload="grader.runner.sandbox.selftest:serve")),
                   ("zygote", lambda: ZygoteLauncher(policy, 1, payload="grader.runner.sandbox.selftest:serve"))):
    launcher = make()
    out[name] = {"report": launcher.report(),
                 "read": run(launcher, "read", path=sys.argv[1])[0],
                 "kill": run(launcher, "kill_parent")[0],
                 "ping": run(launcher, "ping")[0]}
    launcher.close()
print(json.dumps(out))
"""


def _usable_python() -> str | None:
    for candidate in ("/usr/bin/python3",):
        if os.path.exists(candidate):
            version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                     capture_output=True, text=True).stdout.strip()
            if version == str(sys.version_info[:2]):
                return candidate
    return None


def test_unprivileged_tier(tmp_path, secret_dir):
    python = _usable_python()
    try:
        user = pwd.getpwnam("grader-slot7")
    except KeyError:
        user = None
    if os.geteuid() != 0 or python is None or user is None or not shutil.which("setpriv"):
        launcher = SubprocessLauncher(SandboxPolicy())
        assert launcher.report().startswith("sandbox: ")
        return
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join([str(grader_root()), *site])}
    secret = os.path.join(secret_dir, "solution.py")
    proc = subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
                           python, "-c", SCRIPT, secret], env=env, capture_output=True, text=True,
                          timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("fresh", "zygote"):
        r = result[name]
        assert r["report"].startswith(f"sandbox: user {user.pw_uid}")
        assert not r["read"]["ok"]
        assert r["ping"]["uid"] == user.pw_uid        # the grader (our child) is still alive to answer
