"""Per-student variants: drawing parameters, deriving answers, shuffling options.

A variant depends only on ``(salt, unit, student id, question id)``, hashed
with SHA-256 (never Python's salted ``hash``).  Each question has its own
random stream, so adding or reordering questions in a bank does not change
the numbers of the other questions.  Parameters are redrawn (deterministically)
until every constraint holds, the options are distinct and a choice question
has exactly one right option. Shuffled options start from the order of their
texts, so the order in which a bank lists them tells nothing.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sympy

from grader.quiz.derive import BANK_FUNCTIONS
from grader.quiz.expr import Grammar, Node, ParseError, parse, to_sympy
from grader.quiz.bank import PLACEHOLDER
from grader.quiz.model import Bank, BankError, Option, ParamSpec, Question, QuestionSpec, Variant

MAX_TRIES = 1000
VARIANT_VERSION = "v1"  # part of the seed: bump only to reshuffle every student deliberately


def question_seed(salt: str, unit: str, student_id: str, question_id: str) -> int:
    """The 128-bit seed of one student's instance of one question."""
    text = "\x1f".join(["grader-quiz", VARIANT_VERSION, salt, unit, student_id, question_id])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


def make_variant(bank: Bank, *, salt: str, student_id: str) -> Variant:
    """Instantiate every question of ``bank`` for one student."""
    if not student_id:
        raise BankError("a variant needs a student id")
    questions = tuple(
        instantiate(spec, random.Random(question_seed(salt, bank.unit, student_id, spec.id)))
        for spec in bank.questions
    )
    return Variant(unit=bank.unit, student=student_id, title=bank.title, questions=questions)


def _draw(p: ParamSpec, rng: random.Random) -> sympy.Rational:
    while True:
        if p.is_choice:
            value = p.values[rng.randrange(len(p.values))]
        else:
            steps = int((p.high - p.low) / p.step)
            value = p.low + rng.randint(0, steps) * p.step
        if value not in p.exclude:
            return sympy.Rational(value.numerator, value.denominator)


def instantiate(spec: QuestionSpec, rng: random.Random) -> Question:
    """Draw parameters for ``spec`` from ``rng`` until all constraints hold; derive the key."""
    for _ in range(MAX_TRIES):
        env: dict[str, sympy.Expr] = {p.name: _draw(p, rng) for p in spec.params}
        try:
            for name, node in spec.derived:
                env[name] = _sym(node, env)
            if not all(_sym(node, env) == sympy.true for _, node in spec.constraints):
                continue
        except (ZeroDivisionError, ValueError, TypeError):
            continue  # e.g. a division by a drawn zero: redraw
        options = _options(spec, env, rng)
        if options is None:
            continue
        return _question(spec, env, options)
    raise BankError(f"question {spec.id}: no parameters satisfied the constraints in {MAX_TRIES} draws",
                    "widen the parameter ranges or relax the constraints")


def _sym(node: Node, env: dict[str, sympy.Expr]) -> sympy.Expr:
    value = to_sympy(node, env, BANK_FUNCTIONS)
    if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ZeroDivisionError("not finite")
    return value


def _options(spec: QuestionSpec, env: dict[str, sympy.Expr],
             rng: random.Random) -> tuple[Option, ...] | None:
    if not spec.options:
        return ()
    # Shuffled options start from the order of their texts, never from the order in the bank:
    # otherwise the permutation (known to anyone with the salt) would tell the bank's order,
    # where the right option is often written first.
    written = sorted(spec.options, key=lambda o: o.text) if spec.shuffle else spec.options
    shown: list[tuple[str, bool, str]] = []
    for o in written:
        correct = o.correct if isinstance(o.correct, bool) else _sym(o.correct, env) == sympy.true
        shown.append((fill(o.text, env), correct, o.hint))
    n_correct = sum(c for _, c, _ in shown)
    if len({t for t, _, _ in shown}) < len(shown):
        return None  # two options print the same: redraw
    if spec.keyed and ((spec.kind == "choice" and n_correct != 1) or (spec.kind == "multi" and n_correct < 1)):
        return None  # (a released bank carries this condition as a constraint: grader.quiz.release)
    if spec.shuffle:
        rng.shuffle(shown)
    return tuple(Option(id=chr(ord("a") + i), text=t, correct=c, hint=h)
                 for i, (t, c, h) in enumerate(shown))


def _question(spec: QuestionSpec, env: dict[str, sympy.Expr], options: tuple[Option, ...]) -> Question:
    answer: Any
    exact: Any = None
    if not spec.keyed:  # a released bank: the prompt and options only
        return Question(spec=spec, prompt=fill(spec.prompt, env), params=dict(env), options=options)
    if spec.kind == "choice":
        answer = next(o.id for o in options if o.correct)
    elif spec.kind == "multi":
        answer = [o.id for o in options if o.correct]
    elif spec.kind == "shape":
        assert isinstance(spec.answer, tuple)
        exact = tuple(_sym(n, env) for n in spec.answer)
        answer = [_integer(v, spec) for v in exact]
    else:
        assert spec.answer is not None and not isinstance(spec.answer, tuple)
        exact = _sym(spec.answer, env)
        answer = _student_form(spec, exact)
    mistakes = []
    for m in spec.mistakes:
        try:
            mistakes.append((_student_form(spec, _sym(m.answer, env)), m.hint))
        except (ZeroDivisionError, BankError):
            pass  # the mistake is undefined for these parameters: nothing to recognise
    return Question(spec=spec, prompt=fill(spec.prompt, env), params=dict(env), options=options,
                    answer=answer, exact=exact, mistakes=tuple(mistakes))


def _student_form(spec: QuestionSpec, value: sympy.Expr) -> Any:
    if spec.kind == "integer":
        return _integer(value, spec)
    if spec.kind == "numeric":
        number = float(sympy.N(value, 30))
        if not math.isfinite(number):
            raise BankError(f"question {spec.id}: answer {value} is not a finite number")
        return number
    # symbolic: print with sympy and make sure students' grammar reads it back
    text = sympy.sstr(value)
    try:
        parse(text, Grammar(frozenset(v[0] for v in spec.variables)))
    except ParseError as exc:
        raise BankError(f"question {spec.id}: the key {text!r} cannot be written in answer syntax: "
                        f"{exc.message}") from None
    return text


def _integer(value: sympy.Expr, spec: QuestionSpec) -> int:
    if not value.is_Integer:
        raise BankError(f"question {spec.id}: answer {value} is not an integer",
                        "add a constraint so that the division is exact")
    return int(value)


def format_value(value: sympy.Expr, fmt: str | None = None) -> str:
    """Show a parameter in a prompt: integers plainly, terminating rationals as decimals.

    ``fmt`` is a float format spec (``".3f"``), or ``"+"`` for a signed term
    (``x {b:+}`` shows ``x + 2`` or ``x − 2``).
    """
    if fmt == "+":
        return ("− " if value < 0 else "+ ") + format_value(abs(value))
    if fmt:
        return format(float(value), fmt)
    if value.is_Integer:
        return str(int(value))
    if value.is_Rational:
        q = Fraction(int(value.p), int(value.q))
        d = q.denominator
        for prime in (2, 5):
            while d % prime == 0:
                d //= prime
        if d == 1:
            text = format(Decimal(q.numerator) / Decimal(q.denominator), "f")
            if len(text) <= 12:
                return text
        return f"{q.numerator}/{q.denominator}"
    return format(float(value), ".4g")


_SIGN_BEFORE = re.compile(r"([+\-−])[ \t]*$")   # an operator right before a placeholder
_OPERAND_END = re.compile(r"[\w)\]}²³′]\s*$")     # what a binary operator follows
_TIMES = ("·", "*")


def fill(template: str, env: dict[str, sympy.Expr]) -> str:
    """Replace ``{name}`` and ``{name:fmt}`` in ``template`` by parameter values.

    A plain placeholder reads as algebra: ``w − {c}`` with c = -2 shows ``w + 2`` (never
    ``w − -2``), ``-{c}`` shows ``2``, and a coefficient 1 before ``·`` is dropped
    (``{a}·(w − 3)²`` with a = 1 shows ``(w − 3)²``; a = -1 shows ``−(w − 3)²``).
    """
    minus = "−" if "−" in template else "-"
    parts: list[str] = []
    pos = 0
    for m in PLACEHOLDER.finditer(template):
        before, value, fmt = template[pos:m.start()], env[m.group(1)], m.group(2)
        pos = m.end()
        if fmt:
            parts += [before, format_value(value, fmt)]
            continue
        sign = _SIGN_BEFORE.search(before)
        if sign and value < 0:
            binary = _OPERAND_END.search(before[:sign.start()]) is not None
            if sign.group(1) == "+":
                op = minus if binary else "-"
            else:
                op = "+" if binary else ""
            before = before[:sign.start()] + op + (before[sign.end(1):] if op else "")
            value = -value
        parts.append(before)
        if template.startswith(_TIMES, pos) and abs(value) == 1:
            pos += 1                                  # "1·x" -> "x", "-1·x" -> "−x"
            parts.append("" if value == 1 else minus)
            continue
        parts.append(format_value(value))
    parts.append(template[pos:])
    return "".join(parts)


def params_json(params: dict[str, sympy.Expr]) -> dict[str, int | float]:
    """Parameters as JSON numbers (integers stay integers)."""
    return {k: int(v) if v.is_Integer else float(v) for k, v in params.items()}
