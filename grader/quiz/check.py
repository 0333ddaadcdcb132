"""The quiz part of `grader check`: validate answers.toml, and grade it in practice mode."""
from __future__ import annotations

from pathlib import Path

from ..config import Course, Unit


def check_quiz(course: Course, unit: Unit, folder: Path, student: str | None) -> dict | None:
    """A JSON-ready quiz section for a check report, or None when the unit has no quiz."""
    bank_file = course.root / "quizzes" / f"{unit.id}.toml"
    if unit.quiz is None or not bank_file.is_file():
        return None
    practice = unit.quiz.practice
    section: dict = {"practice": practice, "error": None, "questions": {}}
    from .cli import read_student

    answers_file = folder / "answers.toml" if folder.is_dir() else folder.parent / "answers.toml"
    student = student or read_student(course.root)
    if not student:
        section["error"] = "no student id: run `grader login YOUR_ID` once (or pass --student ID)"
        return section
    if not answers_file.is_file():
        section["error"] = f"no answers yet: run `grader quiz {unit.id}` to take the quiz ({answers_file.name})"
        return section
    # sympy is imported only now: it costs about half a second
    from .bank import load_bank
    from .grading import grade_answers, read_answers, validate_answers
    from .model import QuizError
    from .variants import make_variant

    try:
        bank = load_bank(bank_file)
        variant = make_variant(bank, salt=course.salt, student_id=student)
        answers = read_answers(answers_file)
    except QuizError as exc:
        section["error"] = str(exc)
        return section
    if practice and bank.released:   # a graded quiz's released bank has no key, whatever course.toml says
        practice = section["practice"] = False
    if practice:
        result = grade_answers(variant, answers, reveal=True)
        section.update(score=result.score, max_score=result.max_score)
        results = result.questions
    else:
        results = validate_answers(variant, answers)
    for q in results:
        section["questions"][q.question_id] = {"status": q.status, "message": q.message,
                                               "score": q.score, "max_score": q.max_score}
    return section


def quiz_passed(section: dict | None) -> bool:
    """True when there is nothing for the student to fix in the quiz section."""
    if section is None:
        return True
    if section["error"]:
        return False
    if section["practice"]:
        return all(q["score"] >= q["max_score"] for q in section["questions"].values())
    return all(q["status"] not in ("missing", "format_error", "unknown") for q in section["questions"].values())
