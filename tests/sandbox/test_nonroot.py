"""The unprivileged tier (a student's laptop): run the launchers as a non-root user.

Needs root here to become that user, and an interpreter the user can execute; the course
VMs have both (Debian's /usr/bin/python3 is the same 3.11 as the venv). Elsewhere the test
checks only that the report of the current user is honest.
"""
from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile

import pytest

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


def _stage_for(uid_paths: dict[str, str]) -> tuple[str, list[str]]:
    """A world-traversable folder and the bind mounts that show each path in it.

    The checkout (and its .venv) may live where another uid cannot go: under /root, or in a
    `mktemp -d` folder (mode 0700). The sandbox re-exposes what it needs in each job's mount
    namespace; this test does the same for the unprivileged grader it starts, with bind mounts in
    a private mount namespace, so the host's permissions stay as they are.
    """
    stage = tempfile.mkdtemp(prefix="grader-nonroot-")
    os.chmod(stage, 0o755)
    mounts = []
    for name, source in uid_paths.items():
        target = os.path.join(stage, name)
        os.makedirs(target)
        mounts.append(f"mount --bind {shlex.quote(source)} {shlex.quote(target)}")
    return stage, mounts


def test_unprivileged_tier(tmp_path, secret_dir):
    python = _usable_python()
    try:
        user = pwd.getpwnam("grader-slot7")
    except KeyError:
        user = None
    missing = [what for what, ok in (("root (to become another user)", os.geteuid() == 0),
                                     ("/usr/bin/python3 of the same version as this one", python is not None),
                                     ("user grader-slot7 (scripts/setup-sandbox.sh)", user is not None),
                                     ("setpriv and unshare (util-linux)",
                                      bool(shutil.which("setpriv") and shutil.which("unshare"))))
               if not ok]
    if missing:
        launcher = SubprocessLauncher(SandboxPolicy())
        assert launcher.report().startswith("sandbox: ")
        pytest.skip("the unprivileged tier needs " + ", ".join(missing))
    site = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
    paths = {"root/grader": str(grader_root() / "grader"), **{f"site{i}/site-packages": p for i, p in enumerate(site)}}
    stage, mounts = _stage_for(paths)
    try:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(
            [os.path.join(stage, "root")] + [os.path.join(stage, f"site{i}", "site-packages") for i in range(len(site))])}
        secret = os.path.join(secret_dir, "solution.py")
        command = " && ".join(mounts + [shlex.join(
            ["exec", "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
             python, "-c", SCRIPT, secret])])
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", command], env=env,
                              capture_output=True, text=True, timeout=120, cwd="/")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("fresh", "zygote"):
        r = result[name]
        assert r["report"].startswith(f"sandbox: user {user.pw_uid}")
        assert not r["read"]["ok"]
        assert r["ping"]["uid"] == user.pw_uid        # the grader (our child) is still alive to answer
