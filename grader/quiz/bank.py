"""Loading and validating question banks (``quizzes/unitN.toml``).

The bank is checked completely at load time, so a typo in a formula or a
placeholder is reported with the file, the question and a caret, rather than
when the first student opens the quiz.  See ``docs/quizzes.md`` for the format.
"""

from __future__ import annotations

import re
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

from grader.quiz.derive import BANK_FUNCTIONS, bank_grammar
from grader.quiz.expr import CONSTANTS, Node, ParseError, parse
from grader.quiz.model import (
    KINDS, SCHEMA_VERSION, Bank, BankError, MistakeSpec, OptionSpec, ParamSpec, QuestionSpec,
)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)(?::([^{}]*))?\}")
_QUESTION_KEYS = {
    "id", "kind", "prompt", "points", "params", "derived", "constraints", "answer", "options",
    "variables", "rtol", "atol", "shuffle", "explain", "mistakes",
}
DEFAULT_DOMAIN = (-2.0, 2.0)


# What a student release of a graded bank leaves out (grader.quiz.release): the key and
# everything that points at it. A released bank says `released = true` at the top.
KEY_KEYS = frozenset({"answer", "mistakes", "explain"})
OPTION_KEY_KEYS = frozenset({"correct", "hint"})


def load_bank(path: str | Path) -> Bank:
    """Read and validate a question bank; raise ``BankError`` with the location of any problem.

    A student release of a graded bank (``released = true``) loads too: its variants
    draw the same parameters and options, but have no key to grade or show.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BankError(f"no question bank at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BankError(f"{path}: not valid TOML: {exc}") from None
    return parse_bank(data, path=path)


def parse_bank(data: dict[str, Any], *, path: Path | None = None) -> Bank:
    """Build a ``Bank`` from already-decoded TOML data."""
    where = str(path) if path else "<bank>"
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise BankError(f"{where}: schema_version {version} is not supported "
                        f"(this grader reads version {SCHEMA_VERSION})")
    unit = data.get("unit")
    if not isinstance(unit, str) or not unit:
        raise BankError(f"{where}: missing 'unit = \"unitN\"' at the top")
    released = data.get("released", False)
    if not isinstance(released, bool):
        raise BankError(f"{where}: 'released' is true or false")
    defaults = data.get("defaults", {})
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise BankError(f"{where}: no [[questions]]")
    questions: list[QuestionSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_questions):
        qid = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        try:
            q = _question(raw, defaults, released=released)
        except BankError as exc:
            raise BankError(f"{where}: question {qid}: {exc.message}", exc.hint) from None
        if q.id in seen:
            raise BankError(f"{where}: question id {q.id!r} is used twice")
        seen.add(q.id)
        questions.append(q)
    return Bank(unit=unit, title=str(data.get("title", unit)), questions=tuple(questions),
                path=path, schema_version=version, released=released)


def _question(raw: Any, defaults: dict[str, Any], *, released: bool = False) -> QuestionSpec:
    if not isinstance(raw, dict):
        raise BankError("each [[questions]] entry must be a table")
    unknown = set(raw) - _QUESTION_KEYS
    if unknown:
        raise BankError(f"unknown key(s) {sorted(unknown)}",
                        f"allowed keys: {', '.join(sorted(_QUESTION_KEYS))}")
    leaked = sorted(set(raw) & KEY_KEYS) + sorted(
        {k for o in raw.get("options", []) if isinstance(o, dict) for k in o} & OPTION_KEY_KEYS)
    if released and leaked:
        raise BankError(f"a released bank holds no key, but this question has {', '.join(leaked)}",
                        "build the student release with `grader.quiz.release.strip_bank`")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        raise BankError("'id' must be lower_snake_case text")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BankError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BankError("missing 'prompt'")

    params = tuple(_param(name, spec) for name, spec in dict(raw.get("params", {})).items())
    known = {p.name for p in params}
    derived: list[tuple[str, Node]] = []
    for name, text in dict(raw.get("derived", {})).items():
        _check_name(name, known)
        derived.append((name, _formula(text, known, f"derived {name}")))
        known.add(name)
    constraints = tuple((str(t), _formula(t, known, "constraint"))
                        for t in raw.get("constraints", []))
    variables = _variables(raw.get("variables", []), known)
    var_names = {v[0] for v in variables}

    answer: Node | tuple[Node, ...] | None = None
    options: tuple[OptionSpec, ...] = ()
    if kind in ("choice", "multi"):
        options = tuple(_option(o, known) for o in raw.get("options", []))
        if len(options) < 2:
            raise BankError("a choice or multi question needs at least two [[questions.options]]")
    elif released:
        pass  # no answer: the variant draws its parameters, the instructor's bank grades it
    elif kind == "shape":
        parts = raw.get("answer")
        if not isinstance(parts, list) or not parts:
            raise BankError("a shape answer is a list of formulas, e.g. [\"N\", \"C\", \"h\", \"h\"]")
        answer = tuple(_formula(str(p), known, "answer") for p in parts)
    else:
        if "answer" not in raw:
            raise BankError("missing 'answer' (a formula in the parameters)")
        scope = known | var_names if kind == "symbolic" else known
        answer = _formula(str(raw["answer"]), scope, "answer")
    if kind == "symbolic" and not variables:
        raise BankError("a symbolic question must declare its 'variables'")

    if raw.get("mistakes") and kind not in ("integer", "numeric", "symbolic"):
        raise BankError("'mistakes' are supported for integer, numeric and symbolic questions; "
                        "give options a 'hint' instead")
    mistakes = tuple(
        MistakeSpec(_formula(str(m.get("answer", "")), known | var_names, "mistake"), str(m.get("hint", "")))
        for m in raw.get("mistakes", [])
    )
    for text in [prompt] + [o.text for o in options]:
        for m in PLACEHOLDER.finditer(text):
            if m.group(1) not in known:
                raise BankError(f"placeholder {{{m.group(1)}}} names no parameter",
                                f"parameters: {', '.join(sorted(known)) or 'none'}")
    return QuestionSpec(
        id=qid, kind=kind, prompt=prompt.strip(),
        points=float(raw.get("points", defaults.get("points", 1))),
        params=params, derived=tuple(derived), constraints=constraints, answer=answer,
        options=options, variables=variables,
        rtol=float(raw.get("rtol", defaults.get("rtol", 1e-3))),
        atol=float(raw.get("atol", defaults.get("atol", 1e-6))),
        shuffle=bool(raw.get("shuffle", True)), explain=str(raw.get("explain", "")).strip(),
        mistakes=mistakes, keyed=not released,
    )


def _check_name(name: str, known: set[str]) -> None:
    if not _NAME.match(name) or name in BANK_FUNCTIONS or name in CONSTANTS:
        raise BankError(f"{name!r} cannot be a parameter name (reserved or not an identifier)")
    if name in known:
        raise BankError(f"{name!r} is defined twice")


def _fraction(value: Any, what: str) -> Fraction:
    if isinstance(value, bool):
        raise BankError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value))  # 0.1 means exactly 1/10
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            pass
    raise BankError(f"{what}: expected a number such as 3, 0.25 or \"1/3\", got {value!r}")


def _param(name: str, spec: Any) -> ParamSpec:
    _check_name(name, set())
    if isinstance(spec, list):
        spec = {"choice": spec}
    if not isinstance(spec, dict):
        raise BankError(f"param {name}: expected {{ int = [lo, hi] }}, {{ range = [lo, hi], "
                        f"step = ... }} or {{ choice = [...] }}")
    exclude = tuple(_fraction(v, f"param {name} exclude") for v in spec.get("exclude", []))
    if "choice" in spec:
        values = tuple(_fraction(v, f"param {name}") for v in spec["choice"])
        values = tuple(v for v in values if v not in exclude)
        if not values:
            raise BankError(f"param {name}: empty choice")
        return ParamSpec(name, values=values)
    for key in ("int", "range"):
        if key in spec:
            bounds = spec[key]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise BankError(f"param {name}: {key} must be [low, high]")
            low, high = (_fraction(b, f"param {name}") for b in bounds)
            step = Fraction(1) if key == "int" else _fraction(spec.get("step", 1), f"param {name} step")
            if key == "int" and (low.denominator != 1 or high.denominator != 1):
                raise BankError(f"param {name}: int bounds must be integers")
            if step <= 0 or high < low or (high - low) % step != 0:
                raise BankError(f"param {name}: need low <= high and (high - low) a multiple of step")
            return ParamSpec(name, low=low, high=high, step=step, exclude=exclude)
    raise BankError(f"param {name}: give one of 'int', 'range' or 'choice'")


def _formula(text: Any, known: set[str], what: str) -> Node:
    if not isinstance(text, str):
        raise BankError(f"{what}: expected a formula as text, got {text!r}")
    try:
        return parse(text, bank_grammar(frozenset(known)))
    except ParseError as exc:
        raise BankError(f"{what}: {exc}") from None


def _variables(raw: Any, known: set[str]) -> tuple[tuple[str, float, float], ...]:
    items = [(v, list(DEFAULT_DOMAIN)) for v in raw] if isinstance(raw, list) else list(dict(raw).items())
    out = []
    for name, domain in items:
        _check_name(name, known)
        if not isinstance(domain, list) or len(domain) != 2 or not domain[0] < domain[1]:
            raise BankError(f"variable {name}: the sampling domain must be [low, high]")
        out.append((name, float(domain[0]), float(domain[1])))
    return tuple(out)


def _option(raw: Any, known: set[str]) -> OptionSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise BankError("each option needs a 'text'")
    correct = raw.get("correct", False)
    if isinstance(correct, str):
        correct = _formula(correct, known, "option condition")
    elif not isinstance(correct, bool):
        raise BankError("an option's 'correct' is true/false or a condition in the params")
    return OptionSpec(text=raw["text"], correct=correct, hint=str(raw.get("hint", "")))
