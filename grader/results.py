"""Results of checking one student's unit, as plain dataclasses that serialise to JSON."""
from __future__ import annotations

from dataclasses import dataclass, field

RESULTS_VERSION = 1


@dataclass
class CheckResult:
    name: str
    passed: bool
    message: str
    weight: float = 1.0
    hint: str | None = None
    stalled: bool = False  # timed out or crashed the worker

    def to_json(self) -> dict:
        data = {"name": self.name, "passed": self.passed, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        return data


@dataclass
class ExerciseResult:
    name: str
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None

    @property
    def score(self) -> float:
        total = sum(c.weight for c in self.checks)
        if not total:
            return 0.0
        return round(self.max_score * sum(c.weight for c in self.checks if c.passed) / total, 4)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        return {"score": self.score, "max_score": self.max_score, "error": self.error,
                "checks": [c.to_json() for c in self.checks]}


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

    def to_json(self) -> dict:
        data = {"version": RESULTS_VERSION, "unit": self.unit, "score": self.score, "max_score": self.max_score,
                "device": self.device, "notes": list(self.notes),
                "exercises": {name: e.to_json() for name, e in self.exercises.items()}}
        if self.quiz is not None:
            data["quiz"] = self.quiz
        return data
