"""Render results as a small HTML table for Jupyter (no external assets)."""
from __future__ import annotations

import html

from ..results import UnitResult


def render_html(result: UnitResult) -> str:
    """A self-contained table: exercise, check, verdict, message."""
    rows = []
    for ex in result.exercises.values():
        if ex.error:
            rows.append(_row(ex.name, "", False, ex.error))
        for check in ex.checks if not ex.error else []:
            rows.append(_row(ex.name, check.name, check.passed, "" if check.passed else check.message))
    notes = "".join(f"<p style='color:#a60'>note: {html.escape(n)}</p>" for n in result.notes)
    return (
        f"<div><b>{html.escape(result.unit)}: {result.score:g} / {result.max_score:g} points</b>{notes}"
        "<table><tr><th>exercise</th><th>check</th><th></th><th>feedback</th></tr>"
        + "".join(rows) + "</table></div>"
    )


def _row(exercise: str, check: str, passed: bool, message: str) -> str:
    colour = "#1a7f37" if passed else "#cf222e"
    verdict = "pass" if passed else "fail"
    return (f"<tr><td>{html.escape(exercise)}</td><td>{html.escape(check)}</td>"
            f"<td style='color:{colour}'><b>{verdict}</b></td><td style='text-align:left'>{html.escape(message)}</td></tr>")
