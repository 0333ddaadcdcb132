"""The quiz part of `grader grade`: grade each student's answers.toml into the gradebook."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

from ..config import Course, Unit
from .bank import load_bank
from .grading import grade_answers, read_answers
from .model import QuizError
from .variants import make_variant


def grade_quizzes(course: Course, unit: Unit, students: Iterable[tuple[str, Path]], gradebook: Any) -> int:
    """Grade `<unit folder>/answers.toml` of every (student, folder); return how many were recorded.

    The quiz counts `unit.quiz.points`; the bank's own points are scaled to that.
    A missing or unreadable answers file is recorded as a zero with its reason.
    """
    bank_file = course.root / "quizzes" / f"{unit.id}.toml"
    if unit.quiz is None or not bank_file.is_file():
        return 0
    bank = load_bank(bank_file)
    recorded = 0
    for student, folder in students:
        answers_file = folder / "answers.toml"
        if folder.is_symlink() or answers_file.is_symlink():
            quiz, digest = _zero(unit, "answers.toml is a symbolic link; not followed"), None
        elif not answers_file.is_file():
            quiz, digest = _zero(unit, "no answers.toml in the submission"), None
        else:
            raw = answers_file.read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            try:
                variant = make_variant(bank, salt=course.salt, student_id=student)
                result = grade_answers(variant, read_answers(answers_file), reveal=False)
                quiz = _scaled(result.to_json(), unit.quiz.points)
            except QuizError as exc:
                quiz = _zero(unit, str(exc))
        gradebook.record_quiz(unit.id, student, quiz, answers_hash=digest)
        recorded += 1
    return recorded


def _scaled(quiz: dict, points: float) -> dict:
    raw_max = float(quiz["max_score"]) or 1.0
    return {**quiz, "score": round(float(quiz["score"]) / raw_max * points, 4), "max_score": points,
            "raw_score": quiz["score"], "raw_max_score": quiz["max_score"]}


def _zero(unit: Unit, reason: str) -> dict:
    points = unit.quiz.points if unit.quiz else 0.0
    return {"score": 0.0, "max_score": points,
            "questions": {"answers.toml": {"score": 0.0, "max_score": points, "message": reason}}}
