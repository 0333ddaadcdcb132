"""Plan a unit's public checks from a release's data, with no solutions/ anywhere.

The plan is made of the same `UnitPlan` / `PlannedCase` objects as `checking.plan_unit`'s,
rebuilt from the manifest: each exercise and case as data, each mistake's output already
in the plan's cache, each hint pattern rebuilt from its kind and arguments. So
`checking.run_checks` gives the same verdicts and hints as in the instructor course.
"""
from __future__ import annotations

from typing import Any

from ..checking import AtGrading, PlannedCase, UnitPlan
from ..compare.patterns import Pattern
from ..config import Course, Unit
from ..errors import ConfigError
from ..spec.model import Case, Exercise, Mistake
from .casefile import CaseFileError, TreeReader, read_checks
from .export import resolve_measure
from .layout import CHECKS_DIR


def load_release_plan(course: Course, unit: Unit, *, device: str = "cpu", only: list[str] | None = None) -> UnitPlan:
    """The public checks of `unit` from checks/<unit>/ of a release, verified against release.json."""
    from ..api import resolve_device

    if course.release is None:
        raise ConfigError("not a student release: plan the checks with checking.plan_unit")
    device = resolve_device(device)
    prefix = f"{CHECKS_DIR}/{unit.id}"
    manifest, reader = read_checks(course.root / CHECKS_DIR / unit.id, course.release["files"], prefix)
    try:
        exercises = {e["name"]: e for e in manifest["exercises"]}
        if manifest.get("unit") != unit.id:
            raise CaseFileError(f"{prefix}/manifest.json holds the checks of {str(manifest.get('unit'))[:40]!r}")
        cases: dict[str, list[PlannedCase]] = {}
        later: dict[str, list[AtGrading]] = {}
        for name in only or [e.name for e in unit.exercises]:
            if name not in exercises:
                raise CaseFileError(f"{prefix}/manifest.json has no checks for {name}")
            cases[name], later[name] = _exercise(exercises[name], reader, device)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise CaseFileError(f"{prefix}/manifest.json is malformed ({type(exc).__name__}: {str(exc)[:120]}): "
                            "take checks/ again from the release") from None
    return UnitPlan(None, device, cases, at_grading=later)


def _exercise(data: dict, reader: TreeReader, device: str) -> tuple[list[PlannedCase], list[AtGrading]]:
    mistakes = tuple(_mistake(m) for m in data["mistakes"])
    runnable = [c for c in data["cases"] if "at_grading" not in c]
    later = [AtGrading(str(c["name"]), float(c["weight"]), str(c["at_grading"])) for c in data["cases"]
             if "at_grading" in c]
    built = [_case(c, reader) for c in runnable]
    exercise = Exercise(name=str(data["name"]), cases=lambda rng: [case for case, _ in built],
                        entry=_strings(data["entry"]), forbidden=_strings(data["forbidden"]), mistakes=mistakes,
                        uses=_strings(data.get("uses", [])),
                        outputs=_strings(data["outputs"]), forbidden_hint=str(data["forbidden_hint"]))
    planned = []
    for (case, seed), raw in zip(built, runnable):
        outputs: dict[int, Any] = {}
        for key, tree in raw["mistake_outputs"].items():
            index = int(key)
            if not 0 <= index < len(mistakes) or mistakes[index].when is not None:
                raise ValueError(f"a mistake output for mistake {index}, which has none")
            outputs[index] = reader.decode(tree, device=device)
        planned.append(PlannedCase(exercise, case, seed, case.inputs, reader.decode(raw["expected"], device=device),
                                   mistake_outputs=outputs))
    return planned, later


def _case(data: dict, reader: TreeReader) -> tuple[Case, int]:
    measure = data["measure"]
    if measure is not None:
        try:
            measure = resolve_measure(str(measure))
        except (ImportError, AttributeError, ValueError) as exc:
            raise CaseFileError(f"a check names a measurement this grader does not have ({exc}): "
                                "install the grader that came with the release") from None
    case = Case(name=str(data["name"]), inputs=reader.decode(data["inputs"]), driver=str(data["driver"]),
                weight=float(data["weight"]), rtol=_number(data["rtol"]), atol=_number(data["atol"]),
                timeout=_number(data["timeout"]), measure=measure)
    seed = data["seed"]
    if type(seed) is not int:
        raise ValueError("a seed is not an integer")
    return case, seed


def _mistake(data: dict) -> Mistake:
    if data["kind"] == "output":
        return Mistake(str(data["hint"]))
    if data["kind"] == "pattern":
        return Mistake(str(data["hint"]), when=Pattern.from_json(data["pattern"]))
    raise ValueError(f"unknown kind of mistake {str(data['kind'])[:40]!r}")


def _strings(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("expected a list of names")
    return tuple(values)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float):
        raise ValueError("expected a number")
    return float(value)
