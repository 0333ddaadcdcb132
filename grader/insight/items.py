"""Classical item analysis of a unit's quiz, from the answers the gradebook holds.

Per question: difficulty (the share of students who got it fully right), discrimination
(the point-biserial correlation of the question's score with the rest of the quiz), which
option each student chose for a choice question (mapped back to the bank's option, as each
student's options are shuffled), and the most common wrong answers of the other kinds.
Students' variants are re-derived here, in the trusted process, from the bank and the salt.
Instructor-only: the output names the right options and the keys.
"""
from __future__ import annotations

import math
import random
import statistics
from collections import Counter, defaultdict
from typing import Any

from ..gradebook.store import StoredGrade
from ..quiz.model import Bank, BankError, Question, QuestionSpec
from ..quiz.variants import fill, instantiate, question_seed
from ..report.safe import clip, one_line

NO_ATTEMPT = "answers.toml"   # the one "question" of a quiz recorded without an answers file (grader.quiz.batch)
TOP_WRONG = 5
ANSWER_CHARS = 80


def discrimination(item: list[float], rest: list[float]) -> float | None:
    """Pearson correlation of item scores with rest scores (point-biserial for a 0/1 item); None without spread."""
    if len(item) < 3:
        return None
    si, sr = statistics.pstdev(item), statistics.pstdev(rest)
    if si == 0 or sr == 0:
        return None
    mi, mr = statistics.fmean(item), statistics.fmean(rest)
    cov = statistics.fmean([(a - mi) * (b - mr) for a, b in zip(item, rest)])
    return round(cov / (si * sr), 4)


def flag(difficulty: float | None, disc: float | None) -> str:
    """A short verdict on a question, from the usual rules of thumb (docs/report.md)."""
    if difficulty is None:
        return "no answers"
    if disc is not None and disc < 0:
        return "negative discrimination: check the key and the wording"
    if difficulty >= 0.95:
        return "very easy"
    if difficulty <= 0.2:
        return "very hard"
    if disc is None:
        return ""
    if disc < 0.2:
        return "weak discrimination"
    return ""


class Variants:
    """Each student's instance of a question, derived on demand and kept."""

    def __init__(self, bank: Bank, salt: str) -> None:
        self.bank, self.salt = bank, salt
        self._cache: dict[tuple[str, str], Question | None] = {}

    def question(self, student: str, spec: QuestionSpec) -> Question | None:
        """The student's instance of the question (parameters, shuffled options, key); None if it cannot be made."""
        key = (student, spec.id)
        if key not in self._cache:
            rng = random.Random(question_seed(self.salt, self.bank.unit, student, spec.id))
            try:
                self._cache[key] = instantiate(spec, rng)
            except BankError:   # the bank changed since grading: this student's instance is gone
                self._cache[key] = None
        return self._cache[key]


def _letters(answer: Any) -> list[str]:
    """Option letters as grader.quiz.grading reads them ("(b)", "B", ["a", "c"], "a, c")."""
    items = answer if isinstance(answer, list) else str(answer).replace(",", " ").replace(";", " ").split()
    return [str(v).strip().strip("()").strip().lower() for v in items]


def _options(spec: QuestionSpec, rows: list[tuple[str, dict]], variants: Variants) -> list[dict[str, Any]]:
    """How many students chose each of the bank's options, and whether it is right (in how many variants)."""
    chosen, right, shown = Counter(), Counter(), Counter()
    for student, entry in rows:
        q = variants.question(student, spec)
        if q is None:
            continue
        index = {}
        for i, o in enumerate(spec.options):   # a shown option -> the bank's option with the same text
            index[fill(o.text, q.params)] = i
        by_letter = {o.id: index.get(o.text) for o in q.options}
        for o in q.options:
            if by_letter[o.id] is not None:
                shown[by_letter[o.id]] += 1
                right[by_letter[o.id]] += o.correct
        if "answer" in entry:
            for letter in set(_letters(entry["answer"])):
                if by_letter.get(letter) is not None:
                    chosen[by_letter[letter]] += 1
    n = len([1 for _, e in rows if "answer" in e])
    return [{"option": i, "text": o.text, "correct": ("always" if right[i] == shown[i] else
                                                      "never" if right[i] == 0 else f"in {right[i]} of {shown[i]}"),
             "hint": o.hint or None, "chosen": chosen[i], "share": round(chosen[i] / n, 4) if n else 0.0}
            for i, o in enumerate(spec.options)]


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 + 1e-3 * abs(b)


def _relation(got: float, key: float) -> str:
    """How a wrong number relates to the student's own key (variants differ, so raw values do not compare)."""
    if _same(got, -key) and key != 0:
        return "the key with the wrong sign"
    if key != 0 and got != 0:
        ratio = math.log10(abs(got / key))
        if abs(ratio - round(ratio)) < 1e-6 and round(ratio) != 0 and got * key > 0:
            return f"the key times 10^{round(ratio)}"
        if _same(got * key, 1.0):
            return "the reciprocal of the key"
        if _same(got, 2 * key) or _same(2 * got, key):
            return "the key doubled" if _same(got, 2 * key) else "half the key"
    if got == 0:
        return "0"
    return "another value"


def _wrong(spec: QuestionSpec, rows: list[tuple[str, dict]], variants: Variants) -> list[dict[str, Any]]:
    """The most common wrong answers: a recognised mistake's hint, a format error, or the answer itself
    (for a question whose numbers differ per student: how it relates to that student's key)."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)   # what -> [(answer shown, key shown)]
    for student, entry in rows:
        if entry["max_score"] <= 0 or entry["score"] >= entry["max_score"] or "answer" not in entry:
            continue
        message = str(entry.get("message", ""))
        shown = clip(one_line(entry["answer"], ANSWER_CHARS), ANSWER_CHARS)
        key_shown = ""
        if message.startswith("format error"):
            what = "format error: " + one_line(message.removeprefix("format error:").strip().split("\n")[0], 120)
        elif "; hint: " in message:
            what = "recognised mistake: " + one_line(message.split("; hint: ", 1)[1], 200)
        elif spec.parameterized:
            q = variants.question(student, spec)
            if q is None:
                what = "another value"
            else:
                key_shown = f"{q.answer:.6g}" if isinstance(q.answer, float) else clip(one_line(q.answer, 80), 80)
                what = _relation_of(spec, entry["answer"], q.answer)
        else:
            what = shown
        groups[what].append((shown, key_shown))
    wrong = sum(len(v) for v in groups.values())
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_WRONG]
    return [{"answer": what, "students": len(items), "share_of_wrong": round(len(items) / wrong, 4),
             "example": {"answer": items[0][0], "key": items[0][1] or None}} for what, items in ranked]


def _relation_of(spec: QuestionSpec, answer: Any, key: Any) -> str:
    if spec.kind in ("numeric", "integer"):
        try:
            return _relation(float(answer), float(key))
        except (TypeError, ValueError, OverflowError):
            return "another value"
    return "another answer"


def analyse(grades: list[StoredGrade], bank: Bank, salt: str) -> dict[str, Any]:
    """Item analysis of every bank question over the students who handed in answers."""
    attempted = [g for g in grades if g.quiz and NO_ATTEMPT not in g.quiz.get("questions", {})]
    raw_total = {g.student: sum(float(q["score"]) for q in g.quiz["questions"].values()) for g in attempted}
    variants = Variants(bank, salt)
    questions = []
    for spec in bank.questions:
        rows = [(g.student, g.quiz["questions"][spec.id]) for g in attempted if spec.id in g.quiz["questions"]]
        item = [float(e["score"]) / float(e["max_score"]) if float(e["max_score"]) else 0.0 for _, e in rows]
        rest = [raw_total[s] - float(e["score"]) for s, e in rows]
        difficulty = round(sum(v >= 1 - 1e-9 for v in item) / len(item), 4) if item else None
        disc = discrimination(item, rest)
        entry: dict[str, Any] = {
            "id": spec.id, "kind": spec.kind, "points": spec.points, "prompt": clip(" ".join(spec.prompt.split()), 300),
            "students": len(rows), "answered": sum("answer" in e for _, e in rows),
            "difficulty": difficulty, "mean_score": round(statistics.fmean(item), 4) if item else None,
            "discrimination": disc, "flag": flag(difficulty, disc)}
        if spec.kind in ("choice", "multi"):
            entry["options"] = _options(spec, rows, variants)
        else:
            entry["wrong_answers"] = _wrong(spec, rows, variants)
        questions.append(entry)
    totals = [raw_total[g.student] for g in attempted]
    return {"students": len(attempted), "without_answers": sum(1 for g in grades if g.quiz) - len(attempted),
            "raw_max": sum(q.points for q in bank.questions), "reliability_kr20": _kr20(questions, totals),
            "questions": questions}


def _kr20(questions: list[dict[str, Any]], totals: list[float]) -> float | None:
    """Kuder-Richardson 20 from the questions' difficulties (points-weighted items treated as 0/1)."""
    k = len([q for q in questions if q["difficulty"] is not None])
    if k < 2 or len(totals) < 3:
        return None
    variance = statistics.pvariance(totals)
    if variance == 0:
        return None
    pq = sum(q["difficulty"] * (1 - q["difficulty"]) * q["points"] ** 2 for q in questions
             if q["difficulty"] is not None)
    return round(k / (k - 1) * (1 - pq / variance), 4)
