"""Fixtures for batch tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch_support import ROOT, grader, grade_json, make_course  # noqa: E402,F401


@pytest.fixture(scope="session")
def course_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_course(tmp_path_factory.mktemp("course"))




@pytest.fixture(scope="session")
def sandbox_strong(course_root: Path) -> bool:
    """Whether the batch launcher here is the full sandbox (decides which attacks are safe to run)."""
    from grader.batch import open_launcher
    from grader.config import load_course

    choice = open_launcher(load_course(course_root), 2)
    choice.launcher.close()
    return choice.strong
