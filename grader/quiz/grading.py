"""Reading, validating and grading a student's ``answers.toml``.

All functions here are pure except ``read_answers``.  A malformed answer is a
``format_error`` with a caret under the problem; it is never confused with a
wrong answer.  Messages never contain the key unless ``reveal`` is set
(practice mode), in which case they also say what the right answer is: without
it they name the student's own answer and the hint of a recognised mistake or of
a wrongly chosen option, never how many options are right or which.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from grader.quiz.equiv import DEFAULT_TIMEOUT, DIFFERENT, EQUAL, compare_at_points, equivalent
from grader.quiz.expr import Grammar, Node, ParseError, check_bounds, evaluate, parse
from grader.quiz.model import Question, QuestionResult, QuizResult, Variant
from grader.report.safe import clip, printable

_EMPTY = Grammar(frozenset())


class AnswerFormatError(ValueError):
    """An answer that cannot be read for its question kind."""

    def __init__(self, message: str, caret: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.caret = caret

    def __str__(self) -> str:
        return f"{self.message}\n{self.caret}" if self.caret else self.message


@dataclass(frozen=True)
class Formula:
    """A parsed symbolic answer and the text it came from."""

    text: str
    node: Node


def read_answers(path: str | Path) -> dict[str, Any]:
    """Read answers.toml within bounds; raise ``AnswersError`` with the line of a TOML mistake."""
    from grader.quiz.answers_file import read_answers_file

    return read_answers_file(path)


# --------------------------------------------------------------------------
# Reading one answer
# --------------------------------------------------------------------------


MAX_SHAPE_DIGITS = 12   # one dimension of a shape answer
MAX_UNKNOWN_KEYS = 20   # keys that are not questions, listed one by one


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any, limit: int = 60) -> str:
    """A student's value for a message: repr, printable, clipped (a huge int has no repr)."""
    try:
        text = repr(value)
    except ValueError:  # int too large to convert to text
        text = "a number with thousands of digits"
    return clip(printable(text), limit)


def _parse_formula(text: str, grammar: Grammar) -> Node:
    try:
        return parse(text, grammar)
    except ParseError as exc:
        raise AnswerFormatError(clip(printable(exc.message), 200), exc.caret()) from None


def _option_id(value: Any, q: Question) -> str:
    ids = [o.id for o in q.options]
    if not isinstance(value, str):
        raise AnswerFormatError(f"write one option id in quotes, one of {', '.join(ids)}")
    oid = value.strip().strip("()").strip().lower()
    if oid not in ids:
        raise AnswerFormatError(f"{_shown(value)} is not an option; choose one of {', '.join(ids)}")
    return oid


def parse_answer(q: Question, value: Any) -> Any:
    """Turn a raw answers.toml value into the kind's form; raise ``AnswerFormatError``."""
    kind = q.kind
    if kind == "choice":
        return _option_id(value, q)
    if kind == "multi":
        if isinstance(value, str):
            value = [v for v in re.split(r"[\s,;]+", value) if v]
        if not isinstance(value, list):
            raise AnswerFormatError('write a list of option ids, e.g. ["a", "c"] (or [] for none)')
        return frozenset(_option_id(v, q) for v in value)
    if kind == "integer":
        return _integer(value)
    if kind == "numeric":
        return _number(value)
    if kind == "shape":
        return _shape(value)
    if kind == "symbolic":
        if _is_int(value) or isinstance(value, float):
            value = repr(value)
        if not isinstance(value, str):
            raise AnswerFormatError('write the formula in double quotes, e.g. "2*x + 1"')
        names = frozenset(v[0] for v in q.spec.variables)
        return Formula(value, _parse_formula(value, Grammar(names)))
    raise AnswerFormatError(f"unknown question kind {kind!r}")


def _integer(value: Any) -> int:
    if _is_int(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        node = _parse_formula(value, _EMPTY)
        exact = check_bounds(node, value)
        if exact is not None and exact.denominator == 1:
            return int(exact)
    raise AnswerFormatError(f"write a whole number, e.g. 42 (got {_shown(value)})")


def _number(value: Any) -> float:
    if _is_int(value) or isinstance(value, float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    elif isinstance(value, str):
        number = evaluate(_parse_formula(value, _EMPTY), {})
    else:
        raise AnswerFormatError(f"write a number, e.g. 0.25 or \"1/4\" (got {_shown(value)})")
    if not math.isfinite(number):
        raise AnswerFormatError(f"{_shown(value)} is not a finite number")
    return number


_SHAPE_ITEMS = re.compile(r"^\s*\d+(\s*(,|x|×)\s*\d+)*\s*,?\s*$")


def _shape(value: Any) -> tuple[int, ...]:
    usage = f"write a shape as a list of whole numbers, e.g. [4, 16, 8, 8] (got {_shown(value)})"
    too_big = f"a dimension has more than {MAX_SHAPE_DIGITS} digits: {usage}"
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("torch.Size(") and text.endswith(")"):
            text = text[len("torch.Size("):-1].strip()
        for left, right in ("[]", "()"):
            if text.startswith(left) or text.endswith(right):
                if not (text.startswith(left) and text.endswith(right)):
                    raise AnswerFormatError(f"unbalanced brackets: {usage}")
                text = text[1:-1]
        if not _SHAPE_ITEMS.match(text):
            raise AnswerFormatError(usage)
        items = [v for v in re.split(r"[\s,x×]+", text.strip()) if v]
        if any(len(v) > MAX_SHAPE_DIGITS for v in items):
            raise AnswerFormatError(too_big)
        return tuple(int(v) for v in items)
    if isinstance(value, list) and value and all(_is_int(v) and v >= 0 for v in value):
        if any(v >= 10**MAX_SHAPE_DIGITS for v in value):
            raise AnswerFormatError(too_big)
        return tuple(value)
    raise AnswerFormatError(usage)


# --------------------------------------------------------------------------
# Validation and grading
# --------------------------------------------------------------------------


def _missing(q: Question) -> QuestionResult:
    return QuestionResult(q.id, "missing", "no answer", 0.0, q.points)


def _format_error(q: Question, exc: AnswerFormatError) -> QuestionResult:
    return QuestionResult(q.id, "format_error", f"format error: {exc}", 0.0, q.points)


def _unreadable(q: Question, exc: Exception) -> QuestionResult:
    return QuestionResult(q.id, "format_error", f"format error: the answer could not be read "
                          f"({type(exc).__name__}); write it in a simpler form", 0.0, q.points)


def _unknown_keys(variant: Variant, answers: Mapping[str, Any]) -> list[QuestionResult]:
    ids = {q.id for q in variant.questions}
    unknown = [k for k in answers if k not in ids]
    results = [QuestionResult(clip(printable(k), 64), "unknown", f"{_shown(k)} is not a question of {variant.unit}; "
                              "ignored") for k in unknown[:MAX_UNKNOWN_KEYS]]
    if len(unknown) > MAX_UNKNOWN_KEYS:
        results.append(QuestionResult("...", "unknown", f"and {len(unknown) - MAX_UNKNOWN_KEYS} more keys that "
                                      f"are not questions of {variant.unit}; ignored"))
    return results


def _describe(q: Question, parsed: Any) -> str:
    if q.kind == "multi":
        return "selected " + (", ".join(sorted(parsed)) or "nothing")
    if q.kind == "symbolic":
        return f"read as {clip(printable(parsed.text.strip()), 200)}"
    if q.kind == "shape":
        return f"read as {clip(str(list(parsed)), 200)}"
    return f"read as {clip(str(parsed), 200)}"


def validate_answers(variant: Variant, answers: Mapping[str, Any]) -> list[QuestionResult]:
    """Check that every answer is present and well formed, without grading it."""
    results = []
    for q in variant.questions:
        if q.id not in answers:
            results.append(_missing(q))
            continue
        try:
            parsed = parse_answer(q, answers[q.id])
        except AnswerFormatError as exc:
            results.append(_format_error(q, exc))
            continue
        except Exception as exc:  # noqa: BLE001  (one pathological answer is that question's result)
            results.append(_unreadable(q, exc))
            continue
        results.append(QuestionResult(q.id, "ok", _describe(q, parsed), 0.0, q.points))
    return results + _unknown_keys(variant, answers)


def grade_answers(variant: Variant, answers: Mapping[str, Any], *, reveal: bool,
                  timeout: float = DEFAULT_TIMEOUT) -> QuizResult:
    """Score every question of ``variant``; ``reveal`` adds the right answers to the messages.

    Only a variant of the instructor's bank can be graded (a ``QuizError`` otherwise).
    """
    variant.require_key("grading this quiz")
    results = []
    for q in variant.questions:
        if q.id not in answers:
            results.append(_missing(q))
            continue
        result = _grade_raw(q, answers[q.id], reveal=reveal, timeout=timeout)
        result.answer = plain_answer(answers[q.id])
        results.append(result)
    return QuizResult(unit=variant.unit, student=variant.student, questions=results)


def _grade_raw(q: Question, raw: Any, *, reveal: bool, timeout: float) -> QuestionResult:
    try:
        parsed = parse_answer(q, raw)
    except AnswerFormatError as exc:
        return _format_error(q, exc)
    except Exception as exc:  # noqa: BLE001  (one pathological answer is that question's result)
        return _unreadable(q, exc)
    try:
        return grade_one(q, parsed, reveal=reveal, timeout=timeout)
    except Exception as exc:  # noqa: BLE001  (RecursionError, MemoryError, ArithmeticError, ...)
        # one pathological answer must not stop the batch: record it and go on
        return QuestionResult(q.id, "undecided", f"could not be checked ({type(exc).__name__}); "
                              "write a simpler form", 0.0, q.points)


MAX_ANSWER_CHARS = 200   # of one answer kept for item analysis
MAX_ANSWER_ITEMS = 50


def plain_answer(value: Any) -> Any:
    """A student's raw answer as bounded plain JSON (str, int, float, bool, lists, dicts) for the gradebook.

    TOML dates and times become text, so do non-finite floats and huge integers; long text is clipped.
    """
    if isinstance(value, bool) or value is None:
        return value
    if _is_int(value):
        return value if abs(value) < 10**18 else _shown(value, MAX_ANSWER_CHARS)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return clip(value, MAX_ANSWER_CHARS)
    if isinstance(value, list):
        return [plain_answer(v) for v in value[:MAX_ANSWER_ITEMS]]
    if isinstance(value, dict):
        return {clip(str(k), 60): plain_answer(v) for k, v in list(value.items())[:MAX_ANSWER_ITEMS]}
    return clip(str(value), MAX_ANSWER_CHARS)


def _verdict(q: Question, fraction: float, wrong: str, reveal: bool, key: str, hint: str = "",
             status: str | None = None) -> QuestionResult:
    score = round(q.points * max(0.0, min(1.0, fraction)), 6)
    if status is None:
        status = "correct" if fraction >= 1 else ("partial" if fraction > 0 else "incorrect")
    message = "correct" if status == "correct" else wrong
    if hint and status != "correct":
        message += f"; hint: {hint}"
    if reveal and status != "correct":
        message += f"; the right answer is {key}"
        if q.spec.explain:
            message += f". {q.spec.explain}"
    return QuestionResult(q.id, status, message, score, q.points)


def _mistake_hint(q: Question, got: Any) -> str:
    for value, hint in q.mistakes:
        if q.kind == "numeric" and _num_ok(q, got, value):
            return hint
        if q.kind in ("integer", "shape") and got == value:
            return hint
        if q.kind == "symbolic":
            names = frozenset(v[0] for v in q.spec.variables)
            node = parse(value, Grammar(names))
            if compare_at_points(got.node, node, q.spec.variables, value) == EQUAL:
                return hint
    return ""


def _num_ok(q: Question, got: float, want: float) -> bool:
    return abs(got - want) <= q.spec.atol + q.spec.rtol * abs(want)


def grade_one(q: Question, parsed: Any, *, reveal: bool,
              timeout: float = DEFAULT_TIMEOUT) -> QuestionResult:
    """Score one parsed answer against the question's key."""
    if q.kind == "choice":
        opt = next(o for o in q.options if o.id == parsed)
        return _verdict(q, 1.0 if opt.correct else 0.0, "incorrect", reveal, q.answer, opt.hint)
    if q.kind == "multi":
        right = {o.id for o in q.options if o.correct}
        hits, false = len(parsed & right), len(parsed - right)
        fraction = max(0.0, (hits - false) / len(right))
        wrong = "partly correct" if fraction > 0 else "incorrect"
        if reveal and fraction > 0:   # how many options are right is part of the key
            wrong += f": {hits} of {len(right)} right options chosen, {false} wrong option(s) chosen"
        # a hint of a right option left out would say that it is right: only in practice mode
        hints = "; ".join(o.hint for o in q.options
                          if o.hint and (o.id in parsed) != o.correct and (reveal or o.id in parsed))
        return _verdict(q, fraction, wrong, reveal, ", ".join(sorted(right)), hints)
    if q.kind == "numeric":
        ok = _num_ok(q, parsed, q.answer)
        key = f"{q.answer:.6g}"
        return _verdict(q, float(ok), f"incorrect: got {parsed:.6g}", reveal, key,
                        "" if ok else _mistake_hint(q, parsed))
    if q.kind in ("integer", "shape"):
        want = q.answer if q.kind == "integer" else tuple(q.answer)
        ok = parsed == want
        got = clip(str(parsed if q.kind == "integer" else list(parsed)), 80)
        key = str(q.answer)
        return _verdict(q, float(ok), f"incorrect: got {got}", reveal, key,
                        "" if ok else _mistake_hint(q, parsed))
    # symbolic
    key_node = parse(q.answer, Grammar(frozenset(v[0] for v in q.spec.variables)))
    verdict = equivalent(parsed.node, parsed.text, key_node, q.answer, q.spec.variables,
                         timeout=timeout)
    if verdict == EQUAL:
        return _verdict(q, 1.0, "", reveal, q.answer)
    if verdict == DIFFERENT:
        return _verdict(q, 0.0, "incorrect: not equivalent to the expected formula", reveal,
                        q.answer, _mistake_hint(q, parsed))
    return _verdict(q, 0.0, "could not be checked within the time limit; write a simpler "
                    "equivalent form", reveal, q.answer, status="undecided")


def scaled_to_points(quiz: dict[str, Any], points: float) -> dict[str, Any]:
    """A ``QuizResult.to_json()`` with its total on the course's scale (``course.toml``'s quiz points).

    Questions keep their own points; ``raw_score`` and ``raw_max_score`` keep the bank's total.
    `grader check` and `grader grade` both report the quiz this way.
    """
    raw_max = float(quiz["max_score"]) or 1.0
    return {**quiz, "score": round(float(quiz["score"]) / raw_max * points, 4), "max_score": points,
            "raw_score": quiz["score"], "raw_max_score": quiz["max_score"]}
