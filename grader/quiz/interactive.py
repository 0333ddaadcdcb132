"""Taking a quiz in the terminal, question by question, saving after every answer.

Answers go to ``answers.toml`` (atomically) as soon as they parse, so the
student can stop at any time (``q``) and resume later: the quiz starts at the
first unanswered question and shows saved answers.  A format error is shown
with a caret and the question is asked again.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any, Callable, TextIO

from grader.quiz.answers_file import write_answers
from grader.quiz.grading import AnswerFormatError, parse_answer, read_answers
from grader.quiz.model import AnswersError, Question, Variant
from grader.quiz.render import terminal_hint
from grader.report.safe import printable

HELP = ("Type your answer and press Enter. Enter alone keeps the saved answer (or skips); "
        "'b' goes back, 'q' saves and quits, '?' shows this help.")


def _typed_value(text: str) -> Any:
    """A typed line as answers.toml would read it (``"d"``, ``["b", "e"]``, ``0.4``), else the text.

    Students copy the answers.toml form from the docs, or type plainly (``d``, ``b, e``):
    both mean the same. Only strings, numbers and lists count as TOML here.
    """
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text
    if isinstance(value, bool) or not isinstance(value, (str, int, float, list)):
        return text
    return value


def to_stored(q: Question, line: str) -> Any:
    """Turn a typed line into the value stored in answers.toml; raise ``AnswerFormatError``."""
    text = line.strip()
    typed = _typed_value(text)
    value: Any
    if q.kind == "multi":
        plain = typed if isinstance(typed, str) else text
        if isinstance(typed, list):
            value = typed
        elif plain.strip().lower() in ("-", "none"):
            value = []
        else:
            value = [v for v in plain.replace(",", " ").split() if v]
    elif q.kind in ("shape", "integer"):
        value = parse_answer(q, typed)
        value = list(value) if q.kind == "shape" else value
    elif q.kind == "numeric":
        if isinstance(typed, str):
            try:
                value = float(typed)
            except ValueError:
                value = typed  # a formula such as "exp(-1)/2", stored as text
        else:
            value = typed
    else:
        value = typed if isinstance(typed, str) else text
    parsed = parse_answer(q, value)  # raises on a format error
    if q.kind in ("choice",):
        return parsed
    if q.kind == "multi":
        return sorted(parsed)
    return value


def _show(q: Question, number: int, total: int, saved: Any, out: TextIO) -> None:
    out.write(f"\n[{number}/{total}] {q.id} ({q.points:g} point{'s' if q.points != 1 else ''})\n")
    out.write(q.prompt + "\n")
    for o in q.options:
        out.write(f"  {o.id}) {o.text}\n")
    out.write(f"Type {terminal_hint(q)}.\n")
    if saved is not None:
        shown = ", ".join(map(str, saved)) if isinstance(saved, list) else str(saved)
        out.write(f"Saved answer: {printable(shown or '(none)')}\n")


def run_interactive(variant: Variant, answers_path: str | Path, *,
                    input_fn: Callable[[str], str] = input, output: TextIO = sys.stdout) -> int:
    """Ask every question of ``variant``, saving to ``answers_path`` after each answer.

    Returns the number of unanswered questions when the student stops.
    """
    path = Path(answers_path)
    answers: dict[str, Any] = {}
    if path.exists():
        try:
            answers = dict(read_answers(path))
        except AnswersError as exc:
            output.write(f"{exc}\nFix or delete {path} and start again.\n")
            return len(variant.questions)
    header = (f"Quiz answers for {variant.unit} ({variant.title}), student {variant.student}.\n"
              f"Written by `grader quiz {variant.unit}`; you may also edit it by hand.")
    questions = list(variant.questions)
    output.write(f"{variant.unit}: {variant.title} -- {len(questions)} questions for "
                 f"{variant.student}. {HELP}\n")
    i = next((k for k, q in enumerate(questions) if q.id not in answers), 0)
    if answers:
        output.write(f"Resuming: {sum(q.id in answers for q in questions)} answers already saved "
                     f"in {path}.\n")
    while i < len(questions):
        q = questions[i]
        _show(q, i + 1, len(questions), answers.get(q.id), output)
        try:
            line = input_fn("> ")
        except EOFError:
            break
        command = line.strip().lower()
        if command in ("q", "quit", ":q"):
            break
        if command == "?":
            output.write(HELP + "\n")
            continue
        if command == "b":
            i = max(0, i - 1)
            continue
        if not command:
            i += 1
            continue
        try:
            answers[q.id] = to_stored(q, line)
        except AnswerFormatError as exc:
            output.write(f"format error: {exc}\nPlease try again.\n")
            continue
        ordered = {x.id: answers[x.id] for x in questions if x.id in answers}
        ordered.update({k: v for k, v in answers.items() if k not in ordered})
        write_answers(path, ordered, header)
        output.write("saved.\n")
        i += 1
    missing = [q.id for q in questions if q.id not in answers]
    if missing:
        output.write(f"\n{len(missing)} question(s) still unanswered: {', '.join(missing)}. "
                     f"Run `grader quiz {variant.unit}` again to continue.\n")
    else:
        output.write(f"\nAll {len(questions)} questions answered; saved in {path}. "
                     f"`grader check {variant.unit}` validates them.\n")
    return len(missing)
