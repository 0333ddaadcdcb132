"""Plain dataclasses for quizzes: bank specs, per-student variants and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy

from grader.quiz.expr import Node

KINDS = ("choice", "multi", "integer", "numeric", "shape", "symbolic")
SCHEMA_VERSION = 1


from grader.quiz.errors import AnswersError, BankError, QuizError  # noqa: E402,F401  (re-exported)


# --------------------------------------------------------------------------
# Bank: what the instructor wrote
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamSpec:
    """A parameter drawn per student: integers, a rational grid, or a list of values."""

    name: str
    values: tuple[Fraction, ...] = ()       # for "choice"
    low: Fraction = Fraction(0)             # for "int" and "range"
    high: Fraction = Fraction(0)
    step: Fraction = Fraction(1)
    exclude: tuple[Fraction, ...] = ()

    @property
    def is_choice(self) -> bool:
        """True when the parameter is drawn from an explicit list of values."""
        return bool(self.values)


@dataclass(frozen=True)
class OptionSpec:
    """An option of a choice/multi question; ``correct`` is a bool or a formula in the params."""

    text: str
    correct: bool | Node
    hint: str = ""


@dataclass(frozen=True)
class MistakeSpec:
    """A recognised wrong answer (a formula in the params) and the hint it earns."""

    answer: Node
    hint: str


@dataclass(frozen=True)
class QuestionSpec:
    """One question as written in the bank."""

    id: str
    kind: str
    prompt: str
    points: float = 1.0
    params: tuple[ParamSpec, ...] = ()
    derived: tuple[tuple[str, Node], ...] = ()
    constraints: tuple[tuple[str, Node], ...] = ()
    answer: Node | tuple[Node, ...] | None = None
    options: tuple[OptionSpec, ...] = ()
    variables: tuple[tuple[str, float, float], ...] = ()  # name, sampling low, high
    rtol: float = 1e-3
    atol: float = 1e-6
    shuffle: bool = True
    explain: str = ""
    mistakes: tuple[MistakeSpec, ...] = ()
    keyed: bool = True  # False in a student release of a graded quiz: no answer, no option is marked right

    @property
    def parameterized(self) -> bool:
        """True when the question differs between students (beyond option order)."""
        return bool(self.params)


@dataclass(frozen=True)
class Bank:
    """A unit's question bank."""

    unit: str
    title: str
    questions: tuple[QuestionSpec, ...]
    path: Path | None = None
    schema_version: int = SCHEMA_VERSION
    released: bool = False  # a student release without keys (grader.quiz.release.strip_bank)

    def question(self, qid: str) -> QuestionSpec:
        """Return the question with id ``qid``."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)


# --------------------------------------------------------------------------
# Variant: one student's instance of a bank
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """A shown option: ``id`` is the letter the student writes (after shuffling)."""

    id: str
    text: str
    correct: bool
    hint: str = ""


@dataclass(frozen=True)
class Question:
    """One question of a variant, with its parameters and derived answer key."""

    spec: QuestionSpec
    prompt: str
    params: dict[str, sympy.Expr]
    options: tuple[Option, ...] = ()
    answer: Any = None            # in the form a student writes it
    exact: Any = None             # sympy value(s) the answer came from
    mistakes: tuple[tuple[Any, str], ...] = ()  # (value, hint)

    @property
    def id(self) -> str:
        """The question id."""
        return self.spec.id

    @property
    def kind(self) -> str:
        """The question kind."""
        return self.spec.kind

    @property
    def points(self) -> float:
        """Points for a fully correct answer."""
        return self.spec.points


@dataclass(frozen=True)
class Variant:
    """A student's quiz: questions with drawn parameters, shuffled options, and keys."""

    unit: str
    student: str
    title: str
    questions: tuple[Question, ...]

    def question(self, qid: str) -> Question:
        """Return the question with id ``qid``."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    @property
    def keyed(self) -> bool:
        """True when every question has its key (False for a variant of a released bank)."""
        return all(q.spec.keyed for q in self.questions)

    def require_key(self, what: str) -> None:
        """Raise a ``QuizError`` (exit code 2) when this variant has no key to grade or show."""
        if not self.keyed:
            raise QuizError(f"{what} needs the instructor's question bank: this is a student release of the "
                            f"{self.unit} quiz, which holds no answers",
                            "the instructor grades this quiz with `grader grade` in the course folder")


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

STATUSES = ("ok", "missing", "format_error", "unknown", "correct", "partial", "incorrect",
            "undecided")


@dataclass
class QuestionResult:
    """The verdict on one answer: status, score out of max_score, and a message for the student."""

    question_id: str
    status: str
    message: str
    score: float = 0.0
    max_score: float = 0.0
    answer: Any = None   # what the student wrote, as plain JSON (None: no answer); for item analysis

    @property
    def is_error(self) -> bool:
        """True when the answer is missing or malformed."""
        return self.status in ("missing", "format_error")

    def to_json(self) -> dict[str, Any]:
        """The per-question entry of ``QuizResult.to_json`` (with ``answer`` when the student gave one)."""
        data = {"score": self.score, "max_score": self.max_score, "message": self.message}
        if self.answer is not None:
            data["answer"] = self.answer
        return data


@dataclass
class QuizResult:
    """All of a student's question results for one unit."""

    unit: str
    student: str
    questions: list[QuestionResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Total score."""
        return round(sum(q.score for q in self.questions), 6)

    @property
    def max_score(self) -> float:
        """Total available points."""
        return round(sum(q.max_score for q in self.questions), 6)

    def to_json(self) -> dict[str, Any]:
        """``{"score", "max_score", "questions": {qid: {"score", "max_score", "message"[, "answer"]}}}``."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "questions": {q.question_id: q.to_json() for q in self.questions},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, unit: str = "", student: str = "") -> "QuizResult":
        """Rebuild a result from ``to_json`` output (for example, from the gradebook)."""
        questions = []
        for qid, q in data.get("questions", {}).items():
            score, max_score = float(q.get("score", 0)), float(q.get("max_score", 0))
            status = "correct" if max_score and score >= max_score else (
                "partial" if score > 0 else "incorrect")
            questions.append(QuestionResult(qid, status, str(q.get("message", "")), score, max_score,
                                            answer=q.get("answer")))
        return cls(unit=unit, student=student, questions=questions)
