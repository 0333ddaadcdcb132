"""Render results for a terminal: plain text, optional colour, fixed width.

Notes, messages and quiz answers can hold text from the submission: every such string
goes through `printable` here, so only this renderer's own colour codes reach the terminal.
"""
from __future__ import annotations

import textwrap

from ..results import ExerciseResult, UnitResult
from .safe import printable

GREEN, RED, DIM, BOLD, RESET = "\x1b[32m", "\x1b[31m", "\x1b[2m", "\x1b[1m", "\x1b[0m"


def _fmt(points: float) -> str:
    return f"{round(points, 2):g}"


def render_unit(result: UnitResult, *, color: bool = False, width: int = 88, verbose: bool = False) -> str:
    """A report a student can act on: one line per exercise, details for failures."""
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if color else text

    from ..quiz.check import quiz_heading, quiz_lines

    lines = [paint(BOLD, f"{result.unit}: {_fmt(result.score)} / {_fmt(result.max_score)} points"
                   + quiz_heading(result.quiz)) + f"  (device: {result.device})"]
    for note in result.notes:
        lines.extend(textwrap.wrap(f"note: {printable(note)}", width, subsequent_indent="      "))
    for ex in result.exercises.values():
        lines.extend(_exercise(ex, paint, width, verbose))
    if result.quiz is not None:
        lines.extend(quiz_lines(result.quiz, paint, width=width, verbose=verbose, green=GREEN, red=RED))
    return "\n".join(lines) + "\n"


def render_exercise(ex: ExerciseResult, *, width: int = 88) -> str:
    """One exercise's part of the report, without colour (Gradescope's per-test output)."""
    return "\n".join(_exercise(ex, lambda _code, text: text, width, False)) + "\n"


def _exercise(ex: ExerciseResult, paint, width: int, verbose: bool) -> list[str]:  # noqa: ANN001
    counted = ex.counted
    passed = sum(c.passed for c in counted)
    later = len(ex.checks) - len(counted)
    mark = paint(GREEN, "PASS") if ex.passed else paint(RED, "FAIL")
    more = f"; {later} more checked at grading" if later else ""
    head = f"{mark} {ex.name}  {_fmt(ex.score)}/{_fmt(ex.max_score)}  ({passed}/{len(counted)} checks{more})"
    lines = [head]
    if ex.graded_from:
        lines.append(f"     graded from {printable(ex.graded_from)} (several files define it)")
    for note in ex.notes:
        lines.extend(textwrap.wrap(f"note: {printable(note)}", width, initial_indent="     ",
                                   subsequent_indent="           "))
    if ex.error:
        lines.extend(textwrap.wrap(printable(ex.error), width, initial_indent="     ", subsequent_indent="     "))
        return lines
    hints: list[str] = []
    shown: dict[str, int] = {}
    failed = [c for c in counted if not c.passed]
    for check in ex.checks:
        if check.at_grading:
            lines.extend(textwrap.wrap(f"{paint(DIM, '-')}  {printable(check.name)}: {printable(check.message)}",
                                       width, initial_indent="   ", subsequent_indent="        "))
            continue
        if check.passed and not verbose:
            continue
        symbol = paint(GREEN, "ok") if check.passed else paint(RED, "x ")
        if check.passed:
            lines.append(f"   {symbol} {check.name}")
            continue
        message = _without_hint(check)
        if check.hint:
            if check.hint not in hints:
                hints.append(check.hint)
        if message in shown:
            continue
        same = sum(1 for c in failed if _without_hint(c) == message)
        shown[message] = same
        more = f" (and {same - 1} more check{'s' * (same > 2)} with the same problem)" if same > 1 else ""
        lines.append(f"   {symbol} {check.name}{more}")
        lines.extend(textwrap.wrap(printable(message), width, initial_indent="        ",
                                   subsequent_indent="        "))
    for hint in hints:
        lines.extend(textwrap.wrap(f"hint: {printable(hint)}", width, initial_indent="   ",
                                   subsequent_indent="         "))
    return lines


def _without_hint(check) -> str:  # noqa: ANN001
    """The check's message; its hint is listed once, after the problems."""
    return check.message.removesuffix(f". Hint: {check.hint}") if check.hint else check.message
