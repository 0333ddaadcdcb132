"""Fixtures for the quiz tests: the course's banks, loaded once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grader.quiz import Bank, load_bank  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["unit1", "unit2", "unit3", "unit4", "unit5"]
SALT = "test-salt"


@pytest.fixture(scope="session")
def banks() -> dict[str, Bank]:
    return {u: load_bank(ROOT / "quizzes" / f"{u}.toml") for u in UNITS}
