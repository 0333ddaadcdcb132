"""The end-of-batch summary: counts, mean and median per exercise, one line per student, and
the students that need attention (grader errors, unreadable files, hung cells, copies).

`summarize` is pure over the batch report and the stored grades; `render_summary`
turns it into fixed-width text.
"""
from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass, field

from ..config import Unit
from ..gradebook.export import counts_quiz, max_total, total
from ..gradebook.store import StoredGrade
from ..late import NOTE_PREFIX as LATE_NOTE
from ..late import describe
from .safe import clip, printable


@dataclass
class ExerciseStats:
    name: str
    max_score: float
    mean: float
    median: float
    full: int      # students with full marks


@dataclass
class StudentRow:
    student: str
    status: str
    score: float
    max_score: float
    passed: int        # exercises with full marks
    exercises: int


# What needs a person's attention, recognised in a student's notes (grader.notebook.collect, grader.runner).
ATTENTION = (
    ("hung cell", ("did not finish within",)),
    ("unreadable file", ("could not be read", "is not a readable notebook", "is not UTF-8", "symbolic link",
                         "were not read", "; skipped")),
    ("copies", ("has the code of the released starter", "is defined in", "identical copy")),
)
STATUS_TEXT = {"graded": "graded", "ungradable": "not graded", "grader_error": "grader error"}


@dataclass
class Summary:
    unit: str
    sandbox: str
    students: int
    graded: int
    skipped: int
    ungradable: list[tuple[str, str]] = field(default_factory=list)    # (student, reason)
    grader_errors: list[tuple[str, str]] = field(default_factory=list)
    exercises: list[ExerciseStats] = field(default_factory=list)
    total: ExerciseStats | None = None
    identical: list[list[str]] = field(default_factory=list)
    skipped_names: list[str] = field(default_factory=list)
    aborted: str | None = None
    seconds: float = 0.0
    rows: list[StudentRow] = field(default_factory=list)
    attention: list[tuple[str, str, str]] = field(default_factory=list)   # (student, kind, what)


def summarize(report, grades: list[StoredGrade], unit: Unit) -> Summary:  # noqa: ANN001  (batch.BatchReport)
    """Numbers over every student of the batch (fresh grades and unchanged ones alike)."""
    summary = Summary(unit.id, report.sandbox, len(report.students), report.count("graded"), report.count("skipped"),
                      identical=report.identical, skipped_names=report.skipped_names, aborted=report.aborted,
                      seconds=report.seconds)
    for g in grades:
        if g.status == "ungradable":
            summary.ungradable.append((g.student, g.error or ""))
        elif g.status == "grader_error":
            summary.grader_errors.append((g.student, g.error or ""))
    for g in grades:
        full = sum(e.score >= e.max_score for e in g.exercises.values())
        summary.rows.append(StudentRow(g.student, g.status, total(g, unit), max_total(unit), full,
                                       len(unit.exercises)))
        summary.attention.extend((g.student, kind, what) for kind, what in needs_attention(g))
    counted = [g for g in grades if g.status != "grader_error"]
    for ex in unit.exercises:
        scores = [g.exercises[ex.name].score if ex.name in g.exercises else 0.0 for g in counted]
        summary.exercises.append(_stats(ex.name, ex.points, scores))
    if counts_quiz(unit):   # the quiz counts in the total: it gets its own row
        summary.exercises.append(_stats("quiz", unit.quiz.points,
                                        [float(g.quiz["score"]) if g.quiz else 0.0 for g in counted]))
    summary.total = _stats("total", max_total(unit), [total(g, unit) for g in counted])
    return summary


def needs_attention(grade: StoredGrade) -> list[tuple[str, str]]:
    """(kind, what) for each thing about this student's grading that a person should look at."""
    found = []
    if grade.status == "grader_error":
        found.append(("grader error", grade.error or "unknown"))
    elif grade.status == "ungradable":
        found.append(("not graded", grade.error or "unknown"))
    if grade.late_seconds:   # (work within the grace period is recorded as on time: 0)
        found.append(("late", f"handed in {describe(grade.late_seconds)} after the deadline"
                              + (f"; -{grade.penalty:g} points" if grade.penalty else "")))
    for note in grade.notes:
        if note.startswith(LATE_NOTE):
            found.append(("late", note[len(LATE_NOTE):]))
            continue
        kind = next((k for k, markers in ATTENTION if any(m in note for m in markers)), None)
        if kind is not None and (kind, note) not in found and note != grade.error:
            found.append((kind, note))
    return found


def _stats(name: str, max_score: float, scores: list[float]) -> ExerciseStats:
    if not scores:
        return ExerciseStats(name, max_score, 0.0, 0.0, 0)
    return ExerciseStats(name, max_score, statistics.fmean(scores), statistics.median(scores),
                         sum(s >= max_score for s in scores))


def render_summary(s: Summary, *, width: int = 88, max_listed: int = 20) -> str:
    """A table a person reads at the end of a batch."""
    lines = [f"{s.unit}: {s.students} students; graded {s.graded}, unchanged and skipped {s.skipped}, "
             f"could not be graded {len(s.ungradable)}, grader errors {len(s.grader_errors)}  ({s.seconds:.1f} s)"]
    if s.aborted:
        lines.append(f"ABORTED: {printable(s.aborted)}")
    name_w = max([len(e.name) for e in s.exercises] + [8])
    lines.append(f"  {'exercise':<{name_w}}  {'max':>5}  {'mean':>6}  {'median':>6}  {'full marks':>10}")
    for e in [*s.exercises, *([s.total] if s.total else [])]:
        lines.append(f"  {e.name:<{name_w}}  {e.max_score:>5g}  {e.mean:>6.2f}  {e.median:>6.2f}  {e.full:>10}")
    if s.rows:
        id_w = max([len(r.student) for r in s.rows] + [7])
        lines.append(f"  {'student':<{id_w}}  {'total':>11}  {'full marks':>10}  status")
        for r in s.rows:
            score = f"{round(r.score, 2):g}/{r.max_score:g}"
            lines.append(_clip(f"  {r.student:<{id_w}}  {score:>11}  {f'{r.passed}/{r.exercises}':>10}  "
                               f"{STATUS_TEXT.get(r.status, r.status)}", width))
    attention = _attention(s)
    if attention:
        lines.append("needs attention:")
        for student, kind, what in attention[:max_listed]:
            text = printable(f"{student}: {kind}: {what}".replace("\n", " "))
            lines.extend(textwrap.wrap(clip(text, 400), width, initial_indent="  ", subsequent_indent="      "))
        if len(attention) > max_listed:
            lines.append(f"  ... and {len(attention) - max_listed} more (see `grader export --format json`)")
    for group in s.identical:
        lines.append(_clip("identical submissions: " + ", ".join(group), width))
    for name in s.skipped_names:
        lines.append(_clip(f"not a student folder: {name}", width))
    return "\n".join(lines) + "\n"


def _attention(s: Summary) -> list[tuple[str, str, str]]:
    """What needs a person: the per-student findings, and every student not graded or failed by the grader."""
    found = list(s.attention)
    for kind, items in (("not graded", s.ungradable), ("grader error", s.grader_errors)):
        found += [(student, kind, what or "unknown") for student, what in items
                  if (student, kind, what or "unknown") not in found]
    return found


def _clip(text: str, width: int) -> str:
    """One printable line of at most width characters (reasons and names may come from a submission)."""
    text = printable(text.replace("\n", " "))
    return text if len(text) <= width else text[: width - 3] + "..."
