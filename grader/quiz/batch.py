"""The quiz part of `grader grade`: grade each student's answers.toml into the gradebook."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

from ..config import Course, Unit
from ..report.safe import one_line
from .bank import load_bank
from .model import Bank, QuizError


def grade_quizzes(course: Course, unit: Unit, students: Iterable[tuple[str, Path]], gradebook: Any) -> int:
    """Grade `<unit folder>/answers.toml` of every (student, folder); return how many were recorded.

    The quiz counts `unit.quiz.points`; the bank's own points are scaled to that. A missing,
    unreadable or hostile answers file is that student's zero with its reason, never an error
    for the batch.
    """
    bank_file = course.root / "quizzes" / f"{unit.id}.toml"
    if unit.quiz is None or not bank_file.is_file():
        return 0
    bank = load_bank(bank_file)
    if bank.released:
        raise QuizError(f"{bank_file} is the student release of the {unit.id} quiz, which holds no answers",
                        "grade in the instructor's course folder, where quizzes/ has the full banks")
    recorded = 0
    for student, folder in students:
        try:
            quiz, digest = _grade_one(course, unit, bank, student, folder)
        except Exception as exc:  # noqa: BLE001  (one student's answers never stop the batch)
            quiz, digest = _zero(unit, f"the answers could not be graded: {type(exc).__name__}: "
                                       f"{one_line(exc, 200)}"), None
        gradebook.record_quiz(unit.id, student, quiz, answers_hash=digest)
        recorded += 1
    return recorded


def _grade_one(course: Course, unit: Unit, bank: Bank, student: str, folder: Path) -> tuple[dict, str | None]:
    from grader.notebook.collect import TooLarge, read_bounded

    from .answers_file import MAX_ANSWERS_BYTES, parse_answers_text
    from .grading import grade_answers, scaled_to_points
    from .variants import make_variant

    answers_file = folder / "answers.toml"
    if folder.is_symlink() or answers_file.is_symlink():
        return _zero(unit, "answers.toml is a symbolic link; not followed"), None
    if not answers_file.is_file():
        return _zero(unit, "no answers.toml in the submission"), None
    try:
        raw = read_bounded(answers_file, MAX_ANSWERS_BYTES)
    except TooLarge:
        return _zero(unit, f"answers.toml is larger than {MAX_ANSWERS_BYTES // 1024} KiB; it was not read"), None
    except OSError as exc:
        return _zero(unit, f"answers.toml could not be read: {exc.strerror or exc}"), None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _zero(unit, f"answers.toml is not UTF-8 text (bad byte at offset {exc.start})"), digest
    try:
        variant = make_variant(bank, salt=course.salt, student_id=student)
        result = grade_answers(variant, parse_answers_text(text, "answers.toml"), reveal=False)
    except QuizError as exc:
        return _zero(unit, str(exc)), digest
    return scaled_to_points(result.to_json(), unit.quiz.points), digest


def _zero(unit: Unit, reason: str) -> dict:
    points = unit.quiz.points if unit.quiz else 0.0
    return {"score": 0.0, "max_score": points,
            "questions": {"answers.toml": {"score": 0.0, "max_score": points, "message": reason}}}
