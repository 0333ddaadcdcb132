"""Render results as a small HTML table for Jupyter (no external assets, no scripts).

Like the terminal report: a passing exercise is one row; a failing one lists each problem
once, naming how many checks share it, then its hints. Text from the submission or a check
is escaped; backticked spans become <code>. The feedback pages share `group_failures` and
`with_code`.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Iterable, Protocol

from ..results import ExerciseResult, UnitResult


class CheckLike(Protocol):
    name: str
    passed: bool
    message: str
    hint: str | None


@dataclass(frozen=True)
class FailureGroup:
    check: str       # the first failing check with this problem
    more: int        # how many other checks fail with the same message
    message: str     # the message, without its hint (the hint is listed once, after the groups)

    @property
    def label(self) -> str:
        """The check's name, with "(and N more checks with the same problem)" when shared."""
        if not self.more:
            return self.check
        return f"{self.check} (and {self.more} more check{'s' * (self.more > 1)} with the same problem)"


def group_failures(checks: Iterable[CheckLike]) -> tuple[list[FailureGroup], list[str]]:
    """The failing checks grouped by message (without its hint) in order of first appearance,
    and their distinct hints."""
    first: dict[str, str] = {}
    count: dict[str, int] = {}
    hints: list[str] = []
    for check in checks:
        if check.passed or getattr(check, "at_grading", False):
            continue
        message = check.message.removesuffix(f". Hint: {check.hint}") if check.hint else check.message
        if message not in count:
            first[message], count[message] = check.name, 0
        count[message] += 1
        if check.hint and check.hint not in hints:
            hints.append(check.hint)
    return [FailureGroup(first[m], count[m] - 1, m) for m in first], hints


_CODE = re.compile(r"`([^`\n]+)`")


def with_code(text: str) -> str:
    """`text` escaped for HTML, with each `backticked` span as <code>; nothing else becomes markup."""
    parts = _CODE.split(str(text))
    return "".join(f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part)
                   for i, part in enumerate(parts))


COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "at grading": "#6e7781", "hint": "#8a5a00", "open": "#cf222e",
           "note": "#a60"}
CELL = "padding:2px 8px;text-align:left;vertical-align:top"


def _fmt(points: float) -> str:
    return f"{round(points, 2):g}"


def render_html(result: UnitResult) -> str:
    """A self-contained table: one row per passing exercise, one per problem of a failing one."""
    from ..quiz.check import quiz_heading

    rows: list[str] = []
    for ex in result.exercises.values():
        rows.extend(_exercise_rows(ex))
    if result.quiz is not None:
        rows.extend(_quiz_rows(result.quiz))
    notes = "".join(f"<p style='color:#a60'>note: {html.escape(n)}</p>" for n in result.notes)
    heading = f"{result.unit}: {_fmt(result.score)} / {_fmt(result.max_score)} points{quiz_heading(result.quiz)}"
    return (
        f"<div class='grader-report'><b>{html.escape(heading)}</b>{notes}"
        f"<table><tr><th style='{CELL}'>exercise</th><th style='{CELL}'></th>"
        f"<th style='{CELL}'>check</th><th style='{CELL}'>feedback</th></tr>"
        + "".join(rows) + "</table></div>"
    )


def _row(exercise: str, verdict: str, check: str, feedback: str) -> str:
    """One row; `check` and `feedback` are HTML already."""
    mark = f"<b style='color:{COLOURS[verdict]}'>{verdict}</b>" if verdict else ""
    return (f"<tr><td style='{CELL}'>{html.escape(exercise)}</td><td style='{CELL}'>{mark}</td>"
            f"<td style='{CELL}'>{check}</td><td style='{CELL}'>{feedback}</td></tr>")


def _exercise_rows(ex: ExerciseResult) -> list[str]:
    counted = ex.counted
    passed = sum(c.passed for c in counted)
    later = [c for c in ex.checks if c.at_grading]
    summary = f"{_fmt(ex.score)} / {_fmt(ex.max_score)} points, {passed} of {len(counted)} checks passed"
    if later:
        summary += f"; {len(later)} more checked at grading"
    notes = [_row("", "note", "", f"graded from <code>{html.escape(ex.graded_from)}</code> "
                  "(several files define it)")] if ex.graded_from else []
    notes += [_row("", "note", "", with_code(note)) for note in ex.notes]
    if ex.error:
        return [_row(ex.name, "fail", "", with_code(ex.error)), *notes]
    rows = [_row(ex.name, "pass" if ex.passed else "fail", "", html.escape(summary)), *notes]
    groups, hints = group_failures(ex.checks)
    for group in groups:
        rows.append(_row("", "", html.escape(group.label), with_code(group.message)))
    for hint in hints:
        rows.append(_row("", "hint", "", with_code(hint)))
    for check in later:   # what a release cannot run: neither pass nor fail, and why
        rows.append(_row("", "at grading", html.escape(check.name), with_code(check.message)))
    return rows


def _quiz_rows(quiz: dict) -> list[str]:
    from ..quiz.check import question_ok, quiz_passed

    if quiz["error"]:
        return [_row("quiz", "open", "", with_code(quiz["error"]))]
    rows = [_row("quiz", "pass" if quiz_passed(quiz) else "fail", "", "")]
    for qid, q in quiz["questions"].items():
        if not question_ok(q, quiz["practice"]):
            rows.append(_row("", "", html.escape(qid),
                             f"<span style='white-space:pre-wrap;font-family:monospace'>{with_code(q['message'])}</span>"))
    return rows
