"""timestamp.txt as the real nbgrader writes it: `nbgrader submit` through an exchange, then `nbgrader collect`;
our reading must agree with nbgrader's own `parse_utc` (skipped where nbgrader is not installed)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.late import LateRule, assess, parse_timestamp, read_timestamp

nbgrader_utils = pytest.importorskip("nbgrader.utils")


def _nbgrader(*args: str, cwd: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)   # nbgrader runs `alembic` from the same environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_submit_and_collect_with_real_nbgrader(tmp_path):
    exchange, student, instructor = tmp_path / "exchange", tmp_path / "student", tmp_path / "instructor"
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    for folder in (exchange / "course101" / "outbound" / "ps1", exchange / "course101" / "inbound",
                   student / "ps1", instructor):
        folder.mkdir(parents=True)
    (exchange / "course101" / "outbound" / "ps1" / "p.ipynb").write_text(notebook)
    (student / "ps1" / "p.ipynb").write_text(notebook)
    exchange_args = ("--course=course101", f"--Exchange.root={exchange}")
    before = dt.datetime.now(dt.timezone.utc)
    # "EST" is both what %Z writes and a zone name, all year round (a zone like Europe/Berlin writes CET or CEST)
    _nbgrader("submit", "ps1", *exchange_args, "--Exchange.timezone=EST", cwd=student)
    _nbgrader("collect", "ps1", *exchange_args, f"--CourseDirectory.root={instructor}", cwd=instructor)

    collected = next((instructor / "submitted").iterdir()) / "ps1"
    text = (collected / "timestamp.txt").read_text()
    assert text.endswith(" EST")   # nbgrader's own format: "%Y-%m-%d %H:%M:%S.%f %Z"
    submitted, problem = read_timestamp(collected)
    assert problem is None
    assert submitted.replace(tzinfo=None) == nbgrader_utils.parse_utc(text)   # nbgrader's naive UTC
    assert before - dt.timedelta(seconds=1) <= submitted <= dt.datetime.now(dt.timezone.utc)
    late = assess(submitted, None, before - dt.timedelta(hours=25), LateRule(penalty=0.1), 20.0, 20.0)
    assert late.penalty == 4.0 and late.late_seconds > 25 * 3600

    from nbgrader.exchange.abc.exchange import Exchange   # the default exchange's time stamp, in UTC

    stamp = Exchange(coursedir=None)
    stamp.set_timestamp()
    assert parse_timestamp(stamp.timestamp).replace(tzinfo=None) == nbgrader_utils.parse_utc(stamp.timestamp)
    # a local exchange timezone writes CET or CEST (not zone names): [late] timezone places them, all year
    berlin = Exchange(coursedir=None, timezone="Europe/Berlin")
    berlin.set_timestamp()
    assert berlin.timestamp.rsplit(" ", 1)[1] in ("CET", "CEST")
    now = dt.datetime.now(dt.timezone.utc)
    assert now - dt.timedelta(seconds=5) <= parse_timestamp(berlin.timestamp, "Europe/Berlin") <= now
