"""Helpers for batch tests: a course with short limits over the real solutions, and a CLI runner."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

# The batch course's own secret, written before any grade, so the in-process oracle
# (helpers.check_source(..., secret=BATCH_SECRET)) runs the very hidden cases the batch grades on.
BATCH_SECRET = "5e" * 32
TEST_LIMITS = "[limits]\ncheck_timeout = 2.0\nload_timeout = 10.0\nmemory_mb = 768\n"


def make_course(folder: Path) -> Path:
    """A course root with course.toml (short limits) and solutions/ pointing at the real ones."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[limits\]\n(?:[^\[\n][^\n]*\n|\n)*", TEST_LIMITS + "\n", text, count=1)
    (folder / "course.toml").write_text(text, encoding="utf-8")
    (folder / "solutions").symlink_to(ROOT / "solutions")
    fd = os.open(folder / ".grader-secret", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(BATCH_SECRET + "\n")
    return folder


def grader(course: Path, *args: str, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m grader --course COURSE ARGS...` and capture its output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("GRADER_COURSE", None)
    return subprocess.run([sys.executable, "-m", "grader", "--course", str(course), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=str(course), **kwargs)


def grade_json(proc: subprocess.CompletedProcess) -> dict:
    """The --json object a grade run printed (fails with its stderr if there is none)."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)

