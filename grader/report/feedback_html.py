"""A student's feedback page: one self-contained HTML file with every check's message.

Built from the gradebook's StoredGrade only (never from the reference code); every
piece of text a student or a check produced is escaped.
"""
from __future__ import annotations

import html

from ..config import Unit
from ..gradebook.export import max_total, total
from ..late import describe
from ..gradebook.store import StoredExercise, StoredGrade
from .html import group_failures, with_code

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}
.note,.hint{color:#8a5a00}.done{margin:.3rem 0}
code{font-family:ui-monospace,monospace;background:#f3f3f3;padding:0 .2em}.msg{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.9em}
"""


def render_feedback(grade: StoredGrade, unit: Unit, *, course_name: str = "") -> str:
    """The whole page as a string (UTF-8, no external assets, no scripts)."""
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
             f"<title>{e(unit.id)} feedback: {e(grade.student)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(course_name + ': ' if course_name else '')}{e(unit.title)} ({e(unit.id)})</h1>",
             f"<p>Student <b>{e(grade.student)}</b>: <b>{total(grade, unit):g} / {max_total(unit):g}</b> points. "
             f"Graded {e(grade.graded_at)} by grader {e(grade.grader_version)}; "
             f"submission {e(grade.content_hash[:19])}.</p>"]
    if grade.error:
        parts.append(f"<p class='fail'>Not graded: {e(grade.error)}</p>")
    for note in grade.notes:
        parts.append(f"<p class='note'>note: {e(note)}</p>")
    parts.append("<table><tr><th>exercise</th><th>points</th><th>checks passed</th></tr>")
    for ex in grade.exercises.values():
        passed = sum(c.passed for c in ex.checks)
        parts.append(f"<tr><td><a href='#{e(ex.name)}'>{e(ex.name)}</a></td><td>{ex.score:g} / {ex.max_score:g}</td>"
                     f"<td>{passed} / {len(ex.checks)}</td></tr>")
    if grade.quiz is not None:
        parts.append(f"<tr><td>quiz</td><td>{grade.quiz['score']:g} / {grade.quiz['max_score']:g}</td><td></td></tr>")
    if grade.penalty:
        parts.append(f"<tr><td>late penalty</td><td>-{grade.penalty:g}</td><td>handed in "
                     f"{e(describe(grade.late_seconds))} after the deadline</td></tr>")
    parts.append("</table>")
    for ex in grade.exercises.values():
        parts.extend(_exercise(ex))
    if grade.quiz is not None and grade.quiz.get("questions"):
        parts.append("<h2>Quiz</h2><table><tr><th>question</th><th>points</th><th>feedback</th></tr>")
        for qid, q in grade.quiz["questions"].items():
            parts.append(f"<tr><td>{e(str(qid))}</td><td>{q['score']:g} / {q['max_score']:g}</td>"
                         f"<td class='msg'>{with_code(str(q.get('message', '')))}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _exercise(ex: StoredExercise) -> list[str]:
    """A passing exercise as one line; a failing one as a heading, its problems grouped, its hints."""
    e = html.escape
    passed = sum(c.passed for c in ex.checks)
    notes = [f"<p class='note'>graded from <code>{e(ex.graded_from)}</code> (several files define it)</p>"
             ] if ex.graded_from else []
    notes += [f"<p class='note'>note: {with_code(note)}</p>" for note in ex.notes]
    if not ex.error and passed == len(ex.checks) and ex.score >= ex.max_score:
        checks = f", all {len(ex.checks)} checks passed" if ex.checks else ""
        return [f"<p id='{e(ex.name)}' class='done'><span class='pass'>pass</span> <b>{e(ex.name)}</b>: "
                f"{ex.score:g} / {ex.max_score:g}{checks}</p>", *notes]
    parts = [f"<h2 id='{e(ex.name)}'>{e(ex.name)}: {ex.score:g} / {ex.max_score:g}</h2>", *notes]
    if ex.error:
        parts.append(f"<p class='fail'>{with_code(ex.error)}</p>")
    groups, hints = group_failures(ex.checks)
    if groups:
        parts.append(f"<p>{passed} of {len(ex.checks)} checks passed.</p>"
                     "<table><tr><th>check</th><th></th><th>feedback</th></tr>")
        for group in groups:
            parts.append(f"<tr><td>{e(group.label)}</td><td><span class='fail'>fail</span></td>"
                         f"<td class='msg'>{with_code(group.message)}</td></tr>")
        parts.append("</table>")
    for hint in hints:
        parts.append(f"<p class='hint'>hint: {with_code(hint)}</p>")
    return parts
