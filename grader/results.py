"""Results of checking one student's unit, as plain dataclasses that serialise to JSON.

Version 2 of the JSON adds checks that are "checked at grading" (a student release lists
them but cannot run them): `"passed": null, "status": "at_grading"`. They count in no score.
"""
from __future__ import annotations

from dataclasses import dataclass, field

RESULTS_VERSION = 2
AT_GRADING = "checked at grading"


@dataclass
class CheckResult:
    name: str
    passed: bool
    message: str
    weight: float = 1.0
    hint: str | None = None
    stalled: bool = False  # timed out or crashed the worker
    at_grading: bool = False  # listed, not run: its data stays with the instructor (neither pass nor fail)
    stage: str | None = None  # where a failing check failed ("shape", "dtype", "values"...), for the class report

    def to_json(self, *, weights: bool = False) -> dict:
        data = {"name": self.name, "passed": self.passed, "message": self.message}
        if self.at_grading:
            data.update(passed=None, status="at_grading")
        if self.hint:
            data["hint"] = self.hint
        if weights:
            data["weight"] = self.weight
            if self.stage:
                data["stage"] = self.stage
        return data

    @classmethod
    def from_json(cls, data: dict) -> "CheckResult":
        return cls(name=str(data["name"]), passed=bool(data["passed"]), message=str(data["message"]),
                   weight=float(data.get("weight", 1.0)), hint=data.get("hint"),
                   at_grading=data.get("status") == "at_grading", stage=data.get("stage"))


@dataclass
class ExerciseResult:
    name: str
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    graded_from: str | None = None  # the file whose definition was graded, when several files define it
    notes: list[str] = field(default_factory=list)  # about this exercise: it fails because one it uses fails

    @property
    def counted(self) -> list[CheckResult]:
        """The checks that were run: all but those checked at grading."""
        return [c for c in self.checks if not c.at_grading]

    @property
    def score(self) -> float:
        total = sum(c.weight for c in self.counted)
        if not total:
            return 0.0
        return round(self.max_score * sum(c.weight for c in self.counted if c.passed) / total, 4)

    @property
    def passed(self) -> bool:
        return bool(self.counted) and all(c.passed for c in self.counted)

    def to_json(self, *, weights: bool = False) -> dict:
        data = {"score": self.score, "max_score": self.max_score, "error": self.error,
                "checks": [c.to_json(weights=weights) for c in self.checks]}
        if self.graded_from:
            data["graded_from"] = self.graded_from
        if self.notes:
            data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_json(cls, name: str, data: dict) -> "ExerciseResult":
        return cls(name=name, max_score=float(data["max_score"]), error=data.get("error"),
                   checks=[CheckResult.from_json(c) for c in data["checks"]],
                   graded_from=data.get("graded_from"), notes=[str(n) for n in data.get("notes", [])])


@dataclass
class UnitResult:
    unit: str
    exercises: dict[str, ExerciseResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # unreadable files, cells that raised
    device: str = "cpu"
    quiz: dict | None = None  # see grader.quiz.check

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises.values()), 4)

    @property
    def max_score(self) -> float:
        return round(sum(e.max_score for e in self.exercises.values()), 4)

    @property
    def passed(self) -> bool:
        from .quiz.check import quiz_passed

        return all(e.passed for e in self.exercises.values()) and quiz_passed(self.quiz)

    def to_json(self, *, weights: bool = False) -> dict:
        """The check JSON (`grader check --json`); `weights` adds each check's weight, for `from_json`."""
        data = {"version": RESULTS_VERSION, "unit": self.unit, "score": self.score, "max_score": self.max_score,
                "device": self.device, "notes": list(self.notes),
                "exercises": {name: e.to_json(weights=weights) for name, e in self.exercises.items()}}
        if self.quiz is not None:
            data["quiz"] = self.quiz
        return data

    @classmethod
    def from_json(cls, data: dict) -> "UnitResult":
        """The result `to_json(weights=True)` wrote (from another process); ValueError for another version."""
        if data.get("version") != RESULTS_VERSION:
            raise ValueError(f"results version {data.get('version')!r}; this grader reads version {RESULTS_VERSION}")
        return cls(unit=str(data["unit"]), device=str(data["device"]), notes=[str(n) for n in data["notes"]],
                   exercises={name: ExerciseResult.from_json(name, e) for name, e in data["exercises"].items()},
                   quiz=data.get("quiz"))
