"""Fixtures for the quiz tests: the course's banks, loaded once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grader.quiz import Bank, load_bank  # noqa: E402

from quiz_support import ROOT, SALT, UNITS  # noqa: E402,F401


@pytest.fixture(scope="session")
def banks() -> dict[str, Bank]:
    return {u: load_bank(ROOT / "quizzes" / f"{u}.toml") for u in UNITS}
