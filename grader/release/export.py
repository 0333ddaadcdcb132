"""A unit's public checks as data: plan them in the instructor course, run every mistake, write the case file.

Everything a student's `grader check` needs to give today's verdicts and hints is data:
the inputs, the expected output and each catalogued mistake's output on every public case.
What would need code that stays with the instructor is left out and said so:
a case with private data or a measurement outside the grader package is "checked at
grading"; a hint whose predicate is not a `grader.compare.patterns.Pattern` is dropped.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..checking import PlannedCase, UnitPlan, _mistake_output
from ..compare.patterns import Pattern
from ..hints import NO_OUTPUT
from ..spec.model import Case, Exercise
from .casefile import TreeWriter

PRIVATE_DATA = "it measures your result on data that stays with the instructor"
PRIVATE_CODE = "its measurement is code that stays with the instructor"


@dataclass
class UnitExport:
    """What a unit's check data holds and leaves out."""

    unit: str
    manifest: dict
    arrays: dict
    public: dict[str, int] = field(default_factory=dict)                 # exercise -> public checks shipped
    at_grading: dict[str, list[str]] = field(default_factory=dict)       # exercise -> checks checked at grading
    dropped_hints: dict[str, list[str]] = field(default_factory=dict)    # exercise -> hints not in the release


def measure_name(fn: Callable[..., Any]) -> str | None:
    """'grader.module:qualname' for a measurement the grader package defines (and so ships), else None."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not isinstance(module, str) or not module.startswith("grader.") or "<" in qualname:
        return None
    try:
        return f"{module}:{qualname}" if resolve_measure(f"{module}:{qualname}") is fn else None
    except (ImportError, AttributeError, ValueError):
        return None


def resolve_measure(name: str) -> Callable[..., Any]:
    """The measurement named 'grader.module:qualname'; only the grader package is searched."""
    module, _, qualname = name.partition(":")
    if not module.startswith("grader.") or not qualname or not all(p.isidentifier() for p in qualname.split(".")):
        raise ValueError(f"not a measurement of the grader package: {name[:80]!r}")
    value: Any = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    if not callable(value):
        raise ValueError(f"{name[:80]!r} is not callable")
    return value


def export_unit(plan: UnitPlan) -> UnitExport:
    """The manifest and arrays of one unit's public plan (made with plan_unit, no secret, on the CPU)."""
    writer = TreeWriter()
    export = UnitExport(unit=plan.spec.unit.id, manifest={}, arrays=writer.arrays)
    exercises = []
    for name, cases in plan.cases.items():
        exercise = cases[0].exercise if cases else plan.spec.exercises[name]
        exercises.append(_exercise(plan, exercise, cases, writer, export))
    export.manifest = {"unit": export.unit, "exercises": exercises}
    return export


def _exercise(plan: UnitPlan, exercise: Exercise, cases: list[PlannedCase], writer: TreeWriter,
              export: UnitExport) -> dict:
    mistakes, kept = [], []   # kept: the catalogue's index of each mistake that ships
    for index, mistake in enumerate(exercise.mistakes):
        if mistake.when is None:
            mistakes.append({"hint": mistake.hint, "kind": "output"})
        elif isinstance(mistake.when, Pattern):
            mistakes.append({"hint": mistake.hint, "kind": "pattern", "pattern": mistake.when.to_json()})
        else:
            export.dropped_hints.setdefault(exercise.name, []).append(mistake.hint)
            continue
        kept.append(index)
    shipped = []
    for planned in cases:
        reason = _not_shippable(planned.case)
        if reason:
            export.at_grading.setdefault(exercise.name, []).append(planned.case.name)
            shipped.append({"name": planned.case.name, "weight": planned.case.weight, "at_grading": reason})
            continue
        outputs = {}
        for new, old in enumerate(kept):
            if exercise.mistakes[old].when is None:
                wrong = _mistake_output(plan.spec, planned, old, plan.device)
                if wrong is not NO_OUTPUT:
                    outputs[str(new)] = writer.encode(wrong)
        case = planned.case
        shipped.append({
            "name": case.name, "driver": case.driver, "weight": case.weight, "rtol": case.rtol, "atol": case.atol,
            "timeout": case.timeout, "seed": planned.seed,
            "measure": measure_name(case.measure) if case.measure is not None else None,
            "inputs": writer.encode(planned.inputs), "expected": writer.encode(planned.expected),
            "mistake_outputs": outputs,
        })
        export.public[exercise.name] = export.public.get(exercise.name, 0) + 1
    return {"name": exercise.name, "entry": list(exercise.entry), "uses": list(exercise.uses),
            "forbidden": list(exercise.forbidden),
            "forbidden_hint": exercise.forbidden_hint, "outputs": list(exercise.outputs),
            "mistakes": mistakes, "cases": shipped}


def _not_shippable(case: Case) -> str | None:
    """Why a case cannot run from a release, or None when it can."""
    if case.private:
        return PRIVATE_DATA
    if case.measure is not None and measure_name(case.measure) is None:
        return PRIVATE_CODE
    return None
