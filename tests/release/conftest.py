"""One release of every unit, built once per session, and a fresh virtual environment that has only it."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from release_support import instructor_course

from grader.config import load_course
from grader.release.build import build_release


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(ReleaseReport, the instructor Course it was built from)."""
    root = tmp_path_factory.mktemp("release")
    course = load_course(instructor_course(root / "course"))
    return build_release(course, root / "release", wheel=True), course


@pytest.fixture(scope="session")
def release(built) -> Path:
    return built[0].out


@pytest.fixture(scope="session")
def student_venv(tmp_path_factory, release) -> Path:
    """A venv with the release's wheel and nothing of the instructor's checkout.

    torch, numpy and sympy come from this test run's site-packages through a .pth file: Python
    adds that folder to sys.path but does not run the .pth files in it, so the editable install
    of the grader (and with it the checkout, solutions/ included) stays out.
    """
    venv = tmp_path_factory.mktemp("student") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    purelib = Path(sysconfig.get_paths()["purelib"])
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "course_deps.pth").write_text(f"{purelib}\n", encoding="utf-8")
    (wheel,) = (release / "wheels").glob("*.whl")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--ignore-installed",
                    "--disable-pip-version-check", "--quiet", str(wheel)], check=True, timeout=300)
    return venv
