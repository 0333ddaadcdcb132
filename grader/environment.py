"""The course's extra packages: course.toml's `[environment] packages`, installed by scripts/setup.sh.

The grading environment already has what course notebooks commonly import (torch, numpy,
matplotlib with the Agg backend, tqdm, pandas: pyproject.toml). A course that needs more lists
it here; the grader says clearly which listed package is missing where work is graded.
"""
from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def course_packages(root: Path) -> list[str]:
    """The requirements course.toml lists under [environment] packages (none when absent or unreadable)."""
    try:
        data = tomllib.loads((root / "course.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    table = data.get("environment")
    packages = table.get("packages", []) if isinstance(table, dict) else []
    return [p for p in packages if isinstance(p, str)] if isinstance(packages, list) else []


def missing_packages(requirements: list[str]) -> list[str]:
    """The distribution names of the requirements that are not installed in this environment."""
    missing = []
    for requirement in requirements:
        match = _NAME.match(requirement.strip())
        if match is None:
            continue
        try:
            metadata.distribution(match.group())
        except metadata.PackageNotFoundError:
            missing.append(match.group())
    return missing


def missing_note(root: Path) -> str | None:
    """A note naming the packages course.toml lists that are missing here, or None."""
    missing = missing_packages(course_packages(root))
    if not missing:
        return None
    names = ", ".join(missing)
    return (f"course.toml lists packages that are not installed where this work is graded: {names} "
            f"(the instructor's scripts/setup.sh installs them; elsewhere: pip install {' '.join(missing)})")
