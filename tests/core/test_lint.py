"""The grader's own code stays lint-clean (pyflakes, pycodestyle and bugbear rules, see pyproject.toml)."""
import subprocess
import sys

from helpers import ROOT


def test_ruff_finds_nothing():
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "grader", "tests", "solutions", "scripts", "bench"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
