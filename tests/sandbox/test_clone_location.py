"""The sandbox tests pass wherever the project is cloned, e.g. in a 0700 `mktemp -d` folder or under /root.

The checkout and its .venv are copied (the venv bind-mounted, in a private mount namespace) into
a fresh 0700 folder, and the sandbox tests run from there: the slot users cannot traverse that
folder, so the sandbox must re-expose the interpreter, the venv and the grader package itself.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("grader", "tests", "solutions", "exercises", "examples", "scripts", "course.toml", "pyproject.toml")


@pytest.mark.skipif(os.geteuid() != 0 or os.environ.get("GRADER_IN_PRIVATE_CLONE") == "1",
                    reason="needs root (mount namespace, slot users); not recursively")
def test_sandbox_tests_pass_from_a_clone_in_a_private_folder():
    if not shutil.which("unshare"):
        pytest.skip("needs unshare (util-linux)")
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix):
        pytest.skip("needs to run from a virtual environment (the README's .venv)")
    private = tempfile.mkdtemp(prefix="grader-clone-")      # mode 0700, like `mktemp -d`
    clone = Path(private, "p")
    try:
        clone.mkdir()
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, clone / name, symlinks=True,
                                ignore=shutil.ignore_patterns("__pycache__", ".grader-secret-*", "gradebook.db*"))
            elif source.exists():
                shutil.copy2(source, clone / name)
        (clone / ".venv").mkdir()
        inner = clone / ".venv" / "bin" / "python"
        command = (f"mount --bind {shlex.quote(str(venv))} {shlex.quote(str(clone / '.venv'))} && "
                   f"cd {shlex.quote(str(clone))} && exec {shlex.quote(str(inner))} -m pytest -q -p no:cacheprovider "
                   "tests/sandbox -k 'not clone_location'")
        env = {**os.environ, "PYTHONPATH": str(clone), "GRADER_IN_PRIVATE_CLONE": "1"}
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                              capture_output=True, text=True, timeout=600, env=env)
    finally:
        mount_point = clone / ".venv"
        if mount_point.exists() and (os.path.ismount(mount_point) or any(mount_point.iterdir())):
            raise RuntimeError(f"{mount_point} still shows the venv: not removing {private}")
        shutil.rmtree(private, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
