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

TEST_LIMITS = "[limits]\ncheck_timeout = 2.0\nload_timeout = 10.0\nmemory_mb = 768\n"


def make_course(folder: Path) -> Path:
    """A course root with course.toml (short limits) and solutions/ pointing at the real ones."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[limits\]\n(?:[^\[\n][^\n]*\n|\n)*", TEST_LIMITS + "\n", text, count=1)
    (folder / "course.toml").write_text(text, encoding="utf-8")
    (folder / "solutions").symlink_to(ROOT / "solutions")
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

