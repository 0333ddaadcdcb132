"""Load a unit's checks and references from solutions/<unit>/ (trusted process only)."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Course, Unit
from ..errors import ConfigError
from .model import Exercise

SPEC_MODULES = {"checks", "mistakes", "__init__"}


@dataclass
class UnitSpec:
    unit: Unit
    exercises: dict[str, Exercise]
    reference: dict[str, Any]


def load_unit_spec(course: Course, unit: Unit) -> UnitSpec:
    """Import solutions/<unit>/checks.py and gather the reference namespace."""
    folder = course.solutions_dir / unit.id
    if not (folder / "checks.py").is_file():
        raise ConfigError(f"{folder}/checks.py is missing", "every unit needs a checks.py beside its solutions")
    package = _import_package(folder, f"_grader_course.{unit.id}")
    checks = importlib.import_module(f"{package.__name__}.checks")
    declared = getattr(checks, "EXERCISES", None)
    if not isinstance(declared, (list, tuple)) or not all(isinstance(e, Exercise) for e in declared):
        raise ConfigError(f"{folder}/checks.py must define EXERCISES, a list of grader.spec.Exercise")
    exercises = {e.name: e for e in declared}
    missing = [e.name for e in unit.exercises if e.name not in exercises]
    if missing:
        raise ConfigError(f"course.toml lists {', '.join(missing)} in {unit.id}, but checks.py defines no such exercise")
    reference: dict[str, Any] = {}
    for path in sorted(folder.glob("*.py")):
        if path.stem in SPEC_MODULES:
            continue
        module = importlib.import_module(f"{package.__name__}.{path.stem}")
        reference.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    return UnitSpec(unit=unit, exercises=exercises, reference=reference)


def _import_package(folder: Path, name: str) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    if "_grader_course" not in sys.modules:
        root = importlib.util.module_from_spec(importlib.machinery.ModuleSpec("_grader_course", None, is_package=True))
        root.__path__ = []
        sys.modules["_grader_course"] = root
    init = folder / "__init__.py"
    if init.exists():
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot import {folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.util.module_from_spec(importlib.machinery.ModuleSpec(name, None, is_package=True))
        module.__path__ = [str(folder)]
        sys.modules[name] = module
    return module
