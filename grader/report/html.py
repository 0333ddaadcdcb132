"""Render results as a small HTML table for Jupyter (no external assets)."""
from __future__ import annotations

import html

from ..results import UnitResult


def render_html(result: UnitResult) -> str:
    """A self-contained table: exercise, check, verdict, message."""
    rows = []
    for ex in result.exercises.values():
        if ex.error:
            rows.append(_row(ex.name, "", "fail", ex.error))
        for check in ex.checks if not ex.error else []:
            verdict = "at grading" if check.at_grading else "pass" if check.passed else "fail"
            rows.append(_row(ex.name, check.name, verdict, "" if check.passed else check.message))
    notes = "".join(f"<p style='color:#a60'>note: {html.escape(n)}</p>" for n in result.notes)
    return (
        f"<div><b>{html.escape(result.unit)}: {result.score:g} / {result.max_score:g} points</b>{notes}"
        "<table><tr><th>exercise</th><th>check</th><th></th><th>feedback</th></tr>"
        + "".join(rows) + "</table></div>"
    )


COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "at grading": "#6e7781"}


def _row(exercise: str, check: str, verdict: str, message: str) -> str:
    colour = COLOURS[verdict]
    return (f"<tr><td>{html.escape(exercise)}</td><td>{html.escape(check)}</td>"
            f"<td style='color:{colour}'><b>{verdict}</b></td><td style='text-align:left'>{html.escape(message)}</td></tr>")
