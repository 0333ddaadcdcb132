"""What a class did with the exercises, as plain data: score distributions, per-check failure
rates and stages, the catalogued mistakes students made, and who needs attention.

Pure functions over the gradebook's StoredGrade list; every value is JSON-ready.
"""
from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from typing import Any, Callable, Iterable

from ..config import Unit
from ..gradebook.export import counts_quiz, max_total, total
from ..gradebook.store import StoredGrade
from ..report.safe import clip
from ..report.summary import needs_attention

# Where a failing check failed (grader/checking.py, grader/compare); anything else counts as "other".
STAGES = ("defined", "shortcut", "type", "structure", "shape", "dtype", "device", "values", "measure",
          "raised", "timeout", "crashed", "not run", "not_run")
MESSAGE_CHARS = 400   # of a check's message shown with an example


def stage_of(stage: str | None) -> str:
    """A known stage name; None (before schema 4) is "unknown", anything unexpected is "other"."""
    if stage is None:
        return "unknown"
    if stage == "not_run":
        return "not run"
    return stage if stage in STAGES else "other"


def distribution(name: str, max_score: float, scores: list[float], bins: int = 10) -> dict[str, Any]:
    """Mean, median, full marks, zeros and a histogram of `bins` equal bins over [0, max_score]."""
    width = max_score / bins if max_score > 0 else 1.0
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s / width + 1e-9)))] += 1
    return {"name": name, "max": max_score, "students": len(scores),
            "mean": round(statistics.fmean(scores), 4) if scores else None,
            "median": round(statistics.median(scores), 4) if scores else None,
            "full": sum(s >= max_score - 1e-9 for s in scores), "zero": sum(s <= 1e-9 for s in scores),
            "bins": [{"low": round(i * width, 4), "high": round((i + 1) * width, 4), "count": c}
                     for i, c in enumerate(counts)]}


def scores(grades: list[StoredGrade], unit: Unit) -> dict[str, Any]:
    """The total's and each exercise's (and a counted or recorded quiz's) distribution over graded students."""
    counted = [g for g in grades if g.status != "grader_error"]
    exercises = [distribution(ex.name, ex.points, [g.exercises[ex.name].score if ex.name in g.exercises else 0.0
                                                   for g in counted]) for ex in unit.exercises]
    quizzes = [g for g in counted if g.quiz is not None]
    quiz = None
    if unit.quiz is not None and quizzes:
        quiz = distribution("quiz", unit.quiz.points, [float(g.quiz["score"]) for g in quizzes])
        quiz["counts_in_total"] = counts_quiz(unit)
    return {"total": distribution("total", max_total(unit), [total(g, unit) for g in counted], bins=20),
            "exercises": exercises, "quiz": quiz}


def checks(grades: list[StoredGrade], unit: Unit) -> list[dict[str, Any]]:
    """Per check (exercise, name) in the unit's order: how many students ran it, how many failed, and where."""
    order = {ex.name: i for i, ex in enumerate(unit.exercises)}
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for g in grades:
        if g.status != "graded":
            continue
        for ex in g.exercises.values():
            for position, check in enumerate(ex.checks):
                entry = seen.setdefault((ex.name, check.name), {
                    "exercise": ex.name, "check": check.name, "position": position, "students": 0, "failed": 0,
                    "stages": Counter()})
                entry["students"] += 1
                if not check.passed:
                    entry["failed"] += 1
                    entry["stages"][stage_of(check.stage)] += 1
    rows = sorted(seen.values(), key=lambda e: (order.get(e["exercise"], len(order)), e["position"]))
    for e in rows:
        e["failure_rate"] = round(e["failed"] / e["students"], 4) if e["students"] else 0.0
        e["stages"] = dict(e["stages"].most_common())
        del e["position"]
    return rows


def stages_by_exercise(check_rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """exercise -> stage -> failing verdicts, summed over its checks."""
    out: dict[str, Counter] = defaultdict(Counter)
    for row in check_rows:
        out[row["exercise"]].update(row["stages"])   # an exercise nobody failed still gets its (empty) entry
    return {name: dict(c.most_common()) for name, c in out.items()}


def _anonymous_order(unit: str, students: Iterable[str]) -> list[str]:
    """Students in an order that is stable but says nothing about their ids (not alphabetical)."""
    return sorted(students, key=lambda s: hashlib.sha256(f"{unit}\x1f{s}".encode()).hexdigest())


def mistakes(grades: list[StoredGrade], unit: Unit,
             source: Callable[[str, str], str | None] | None = None) -> list[dict[str, Any]]:
    """Per recognised mistake (an exercise and a hint): how many graded students made it, and an anonymised example.

    `source(student, exercise)`, when given, adds the example student's definition of the exercise.
    """
    graded = [g for g in grades if g.status == "graded"]
    who: dict[tuple[str, str], dict[str, tuple[str, str]]] = defaultdict(dict)
    for g in graded:
        for ex in g.exercises.values():
            for check in ex.checks:
                if not check.passed and check.hint and g.student not in who[(ex.name, check.hint)]:
                    who[(ex.name, check.hint)][g.student] = (check.name, check.message)
    rows = []
    for (exercise, hint), students in who.items():
        example = _anonymous_order(unit.id, students)[0]
        check, message = students[example]
        rows.append({"exercise": exercise, "hint": hint, "students": len(students),
                     "share": round(len(students) / len(graded), 4) if graded else 0.0,
                     "example": {"check": check, "message": clip(message, MESSAGE_CHARS),
                                 "source": source(example, exercise) if source else None}})
    rows.sort(key=lambda r: (-r["students"], r["exercise"], r["hint"]))
    for i, row in enumerate(rows, 1):
        row["example"]["label"] = f"example {i}"
    return rows


def attention(grades: list[StoredGrade], pairs: list[dict[str, Any]] | None = None,
              similar_from: float = 0.8) -> list[dict[str, str]]:
    """(student, kind, what) for everything a person should look at: not graded, grader errors, hung
    cells, unreadable files, copies of a notebook, identical submissions, late work, and the pairs
    that `grader similarity` scored at least `similar_from`."""
    found = [{"student": g.student, "kind": kind, "what": what} for g in grades for kind, what in needs_attention(g)]
    by_hash: dict[str, list[str]] = defaultdict(list)
    for g in grades:
        if g.status == "graded" and g.score > 0:   # many untouched starters are alike, and no one's copy
            by_hash[g.content_hash].append(g.student)
    for group in by_hash.values():
        for student in group if len(group) > 1 else ():
            others = [s for s in group if s != student]
            found.append({"student": student, "kind": "identical",
                          "what": f"handed in exactly the same files as {', '.join(others[:5])}"
                                  + (f" and {len(others) - 5} more" if len(others) > 5 else "")})
    for pair in [p for p in pairs or [] if p["score"] >= similar_from]:
        found.append({"student": str(pair["a"]), "kind": "similar",
                      "what": f"similar to {pair['b']} (score {float(pair['score']):.2f}): a reason to look, "
                              "not a verdict"})
    kinds = ["grader error", "not graded", "hung cell", "unreadable file", "copies", "identical", "similar", "late"]
    found.sort(key=lambda f: (kinds.index(f["kind"]) if f["kind"] in kinds else len(kinds), f["student"]))
    return found


def counts(grades: list[StoredGrade]) -> dict[str, int]:
    """How many students the gradebook holds, by status."""
    by = Counter(g.status for g in grades)
    return {"total": len(grades), "graded": by["graded"], "not_graded": by["ungradable"],
            "grader_error": by["grader_error"]}
