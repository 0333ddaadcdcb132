"""The quiz part of `grader check`: validate answers.toml, and grade it in practice mode.

`check_quiz` builds a JSON-ready section; `quiz_lines` and `quiz_heading` render it for the
terminal; `check_quiz_command` is `grader check UNIT quiz` (the answers only, no exercises).
"""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Callable

from ..config import Course, Unit
from ..report.safe import printable

BAD_STATUSES = ("missing", "format_error", "unknown")


def unit_answers_file(course: Course, unit: Unit, path: Path | None) -> Path:
    """The answers.toml `grader check` reads: in the checked folder, else in the unit folder.

    A notebook or .py file given with --path lies anywhere (a download folder); its quiz
    answers stay in the unit folder, where `grader quiz` writes them.
    """
    from .cli import answers_path

    if path is not None and path.is_dir():
        return path / "answers.toml"
    return answers_path(course.root, unit.id)


def check_quiz(course: Course, unit: Unit, folder: Path | None, student: str | None) -> dict | None:
    """A JSON-ready quiz section for a check report, or None when the unit has no quiz.

    In practice mode the score is on the quiz's scale from course.toml (`unit.quiz.points`),
    as in `grader grade`; each question keeps its own points.
    """
    bank_file = course.root / "quizzes" / f"{unit.id}.toml"
    if unit.quiz is None or not bank_file.is_file():
        return None
    practice = unit.quiz.practice
    section: dict = {"practice": practice, "error": None, "questions": {}}
    from .cli import read_student

    answers_file = unit_answers_file(course, unit, folder)
    student = student or read_student(course.root)
    if not student:
        section["error"] = "no student id: run `grader login YOUR_ID` once (or pass --student ID)"
        return _done(section)
    if not answers_file.is_file():
        section["error"] = f"no answers yet: run `grader quiz {unit.id}` to take the quiz (no {_shown_path(answers_file, course.root)})"
        return _done(section)
    # sympy is imported only now: it costs about half a second
    from .bank import load_bank
    from .grading import grade_answers, read_answers, scaled_to_points, validate_answers
    from .model import QuizError
    from .variants import make_variant

    try:
        bank = load_bank(bank_file)
        variant = make_variant(bank, salt=course.salt, student_id=student)
        answers = read_answers(answers_file)
    except QuizError as exc:
        section["error"] = str(exc)
        return _done(section)
    if practice and bank.released:   # a graded quiz's released bank has no key, whatever course.toml says
        practice = section["practice"] = False
    if practice:
        result = grade_answers(variant, answers, reveal=True)
        scaled = scaled_to_points(result.to_json(), unit.quiz.points)
        section.update(score=scaled["score"], max_score=scaled["max_score"])
        results = result.questions
    else:
        results = validate_answers(variant, answers)
    for q in results:
        section["questions"][q.question_id] = {"status": q.status, "message": q.message,
                                               "score": q.score, "max_score": q.max_score}
    return _done(section)


def _shown_path(path: Path, root: Path) -> str:
    try:
        return printable(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return printable(path)


def _done(section: dict) -> dict:
    section["passed"] = quiz_passed(section)
    return section


def question_ok(q: dict, practice: bool) -> bool:
    """True when a question of the section needs nothing more (right, in practice; readable, else)."""
    if practice:
        return q["status"] == "correct" or (q["max_score"] > 0 and q["score"] >= q["max_score"])
    return q["status"] not in BAD_STATUSES


def quiz_passed(section: dict | None) -> bool:
    """True when there is nothing for the student to fix in the quiz section."""
    if section is None:
        return True
    if section["error"]:
        return False
    return all(question_ok(q, section["practice"]) for q in section["questions"].values())


def _fmt(points: float) -> str:
    return f"{round(points, 2):g}"


def quiz_heading(section: dict | None) -> str:
    """The quiz's part of the report's first line, e.g. "; quiz 6.5 / 10 (2 questions to fix)"."""
    if section is None:
        return ""
    if section["error"]:
        return "; quiz not done yet"
    questions = section["questions"].values()
    bad = sum(not question_ok(q, section["practice"]) for q in questions)
    if section["practice"]:
        todo = f" ({bad} question{'s' * (bad != 1)} to fix)" if bad else ""
        return f"; quiz {_fmt(section['score'])} / {_fmt(section['max_score'])}{todo}"
    if bad:
        return f"; quiz: {bad} answer{'s' * (bad != 1)} to fix"
    return f"; quiz: all {len(section['questions'])} answers readable"


def quiz_lines(section: dict, paint: Callable[[str, str], str] = lambda code, text: text, *,
               width: int = 88, verbose: bool = False, green: str = "", red: str = "") -> list[str]:
    """The quiz section for the terminal: a status line, then each question to fix with its message."""
    practice = section["practice"]
    title = "quiz (practice)" if practice else "quiz (answers checked for format only)"
    if section["error"]:
        return [f"{paint(red, 'OPEN')} {title}",
                *textwrap.wrap(printable(section["error"]), width, initial_indent="     ",
                               subsequent_indent="     ")]
    questions = section["questions"]
    good = [qid for qid, q in questions.items() if question_ok(q, practice)]
    mark = paint(green, "PASS") if len(good) == len(questions) else paint(red, "FAIL")
    if practice:
        lines = [f"{mark} {title}  {_fmt(section['score'])}/{_fmt(section['max_score'])}  "
                 f"({len(good)}/{len(questions)} questions right)"]
    else:
        lines = [f"{mark} {title}  ({len(good)}/{len(questions)} answers readable)"]
    for qid, q in questions.items():
        if qid in good:
            if verbose:
                lines.append(f"   {paint(green, 'ok')} {printable(qid)}")
            continue
        lines.append(f"   {paint(red, 'x ')} {printable(qid)}")
        for line in str(q["message"]).splitlines():   # unwrapped: a caret must stay under its column
            lines.append(f"        {printable(line)}")
    return lines


def check_quiz_command(course: Course, unit_id: str, *, exercises: list[str] | None = None,
                       path: Path | None = None, student: str | None = None, as_json: bool = False,
                       verbose: bool = False, out=None) -> int:  # noqa: ANN001
    """`grader check UNIT quiz`: check only the unit's answers.toml; exit code 0 or 1."""
    from ..errors import UsageError
    from ..report.text import BOLD, GREEN, RED, RESET

    out = out or sys.stdout
    unit = course.unit(unit_id)
    others = [name for name in exercises or [] if name != "quiz"]
    if others:
        raise UsageError(f"`quiz` checks only the answers; check {', '.join(others)} in a separate run",
                         f"`grader check {unit.id} quiz`, then `grader check {unit.id} {' '.join(others)}`")
    section = check_quiz(course, unit, path, student)
    if section is None:
        raise UsageError(f"{unit.id} has no quiz", "`grader list` shows which units have one")
    if as_json:
        out.write(json.dumps({"unit": unit.id, "quiz": section}, indent=2) + "\n")
    else:
        color = out.isatty() if hasattr(out, "isatty") else False

        def paint(code: str, text: str) -> str:
            return f"{code}{text}{RESET}" if color and code else text

        heading = quiz_heading(section).removeprefix("; ")
        lines = [paint(BOLD, f"{unit.id}: {heading}"),
                 *quiz_lines(section, paint, verbose=verbose, green=GREEN, red=RED)]
        out.write("\n".join(lines) + "\n")
    return 0 if section["passed"] else 1
