"""The end-of-batch summary: counts, failures with reasons, mean and median per exercise.

`summarize` is pure over the batch report and the stored grades; `render_summary`
turns it into fixed-width text.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from ..config import Unit
from ..gradebook.export import max_total, total
from ..gradebook.store import StoredGrade
from .safe import printable


@dataclass
class ExerciseStats:
    name: str
    max_score: float
    mean: float
    median: float
    full: int      # students with full marks


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
    counted = [g for g in grades if g.status != "grader_error"]
    for ex in unit.exercises:
        scores = [g.exercises[ex.name].score if ex.name in g.exercises else 0.0 for g in counted]
        summary.exercises.append(_stats(ex.name, ex.points, scores))
    summary.total = _stats("total", max_total(unit), [total(g, unit) for g in counted])
    return summary


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
    for title, rows in (("could not be graded (zero recorded)", s.ungradable),
                        ("grader errors (not graded; retried on the next run)", s.grader_errors)):
        if rows:
            lines.append(f"{title}:")
            for student, reason in rows[:max_listed]:
                lines.append(_clip(f"  {student}: {reason}", width))
            if len(rows) > max_listed:
                lines.append(f"  ... and {len(rows) - max_listed} more (see `grader export`)")
    for group in s.identical:
        lines.append(_clip("identical submissions: " + ", ".join(group), width))
    for name in s.skipped_names:
        lines.append(_clip(f"not a student folder: {name}", width))
    return "\n".join(lines) + "\n"


def _clip(text: str, width: int) -> str:
    """One printable line of at most width characters (reasons and names may come from a submission)."""
    text = printable(text.replace("\n", " "))
    return text if len(text) <= width else text[: width - 3] + "..."
