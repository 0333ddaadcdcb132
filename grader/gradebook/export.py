"""Grades out of the gradebook: grades.csv for an LMS import, and JSON.

Pure functions over StoredGrade lists; the callers open files.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable

from ..config import Unit
from .store import StoredGrade


def counts_quiz(unit: Unit) -> bool:
    """A graded (not practice) quiz adds a column and counts towards the total."""
    return unit.quiz is not None and not unit.quiz.practice


def total(grade: StoredGrade, unit: Unit) -> float:
    """Exercise points plus the quiz's (when the quiz counts and was recorded), less the late penalty."""
    points = grade.score - (grade.penalty or 0.0)
    if grade.quiz is not None and counts_quiz(unit):
        points += float(grade.quiz["score"])
    return round(points, 4)


def shows_lateness(grades: list[StoredGrade], unit: Unit) -> bool:
    """Whether exports carry lateness columns: the unit has a deadline, or some grade was penalised."""
    return unit.deadline is not None or any(g.penalty or g.late_seconds for g in grades)


def max_total(unit: Unit) -> float:
    """The most points a student can get in the unit."""
    points = sum(e.points for e in unit.exercises)
    if counts_quiz(unit):
        points += unit.quiz.points
    return round(points, 4)


def csv_text(grades: Iterable[StoredGrade], unit: Unit) -> str:
    """One row per student: student_id, a column per exercise, [quiz], total (RFC 4180, UTF-8).

    A student whose grading failed for a reason on the grader's side gets empty cells
    rather than a zero, so that an import does not record a grade the student never got.
    When the unit has a deadline, `submitted_at`, `late_hours` and `late_penalty` come before
    the total, and the total is net of the penalty.
    """
    grades = list(grades)
    late = shows_lateness(grades, unit)
    header = ["student_id", *(e.name for e in unit.exercises)]
    if counts_quiz(unit):
        header.append("quiz")
    if late:
        header += ["submitted_at", "late_hours", "late_penalty"]
    header.append("total")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for grade in grades:
        if grade.status == "grader_error":
            writer.writerow([grade.student, *([""] * (len(header) - 1))])
            continue
        row = [grade.student]
        for ex in unit.exercises:
            stored = grade.exercises.get(ex.name)
            row.append(_num(stored.score if stored else 0.0))
        if counts_quiz(unit):
            row.append(_num(float(grade.quiz["score"])) if grade.quiz else "")
        if late:
            row += [grade.submitted_at or "", _num(round(grade.late_seconds / 3600, 2)), _num(grade.penalty)]
        row.append(_num(total(grade, unit)))
        writer.writerow(row)
    return out.getvalue()


def summary_json(grades: Iterable[StoredGrade], unit: Unit) -> dict:
    """`{"unit", "students": {id: {"total", "max_total", "error", "exercises": {name: {score, max_score, error}}}}}`."""
    students = {}
    for grade in grades:
        students[grade.student] = {
            "total": total(grade, unit), "max_total": max_total(unit), "error": grade.error,
            "submitted_at": grade.submitted_at, "late_seconds": grade.late_seconds, "penalty": grade.penalty,
            "exercises": {name: {"score": ex.score, "max_score": ex.max_score, "error": ex.error}
                          for name, ex in grade.exercises.items()},
        }
        if grade.quiz is not None:
            students[grade.student]["quiz"] = {"score": grade.quiz["score"], "max_score": grade.quiz["max_score"],
                                               "questions": grade.quiz.get("questions", {})}
    return {"unit": unit.id, "students": students}


def full_json(grades: Iterable[StoredGrade], unit: Unit) -> dict:
    """summary_json plus status, notes, content hash, time, grader version and every check."""
    grades = list(grades)
    data = summary_json(grades, unit)
    data["version"] = 1
    for grade in grades:
        entry = data["students"][grade.student]
        entry.update(status=grade.status, notes=grade.notes, content_hash=grade.content_hash,
                     graded_at=grade.graded_at, grader_version=grade.grader_version)
        for name, ex in grade.exercises.items():
            entry["exercises"][name]["checks"] = [
                {"name": c.name, "passed": c.passed, "message": c.message, **({"hint": c.hint} if c.hint else {})}
                for c in ex.checks]
        if grade.quiz is not None:
            entry["quiz"] = grade.quiz
    return data


def _num(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)
