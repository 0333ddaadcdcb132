"""Question banks for a student release: what draws and shows each variant stays, the key goes.

A practice quiz grades itself, so its bank is released as it is. A graded quiz keeps
what renders its prompts and draws each student's variant exactly as the instructor's
bank does: parameters, constraints, option texts, points, tolerances, variables and
`shuffle`. It loses the answers, the mistakes and their hints, which options are right,
the options' hints (a hint marks a wrong option) and the explanations. The released bank
says `released = true`; `load_bank` reads it, and its variants have no key.

Two things the instructor's bank decides while drawing must survive the stripping:

* a `derived` value that a constraint, the prompt or an option's text uses, or that is
  undefined for some parameters (a drawn zero in a denominator): the instructor's bank
  redraws then, so the released one must too. Those formulas stay, with a comment.
* for a choice (multi) question whose options are right under a condition in the params,
  "exactly one (at least one) option is right": it becomes one generated constraint.

`kept_formulas(path)` lists, per question, what stayed for these reasons.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.quiz.bank import PLACEHOLDER, load_bank, parse_bank
from grader.quiz.expr import Binary, Call, Name, Node, Num, Unary, names
from grader.quiz.model import Bank, BankError, ParamSpec, QuestionSpec

# the question keys a released graded bank keeps (answer, mistakes and explain go)
KEPT_KEYS = ("id", "kind", "prompt", "points", "params", "derived", "constraints", "variables",
             "rtol", "atol", "shuffle")
# bank functions that are defined for every finite argument (a derived value made only of
# these cannot make the instructor's bank redraw, so it can be left out)
_TOTAL_FUNCTIONS = frozenset({"sigma", "tanh", "exp", "abs", "sign", "max", "min", "relu", "sinh", "cosh",
                              "sin", "cos", "floor", "ceil", "rnn_params", "gru_params", "lstm_params"})
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class _Stripped:
    """One graded question as released, and why formulas stayed."""

    table: dict[str, Any]
    options: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)   # "derived g: the constraint 'g != 0' uses it"


def strip_bank(path: Path, *, practice: bool) -> str:
    """The bank's TOML text for a student release (unchanged for a practice quiz)."""
    text = Path(path).read_text(encoding="utf-8")
    if practice:
        return text
    bank = load_bank(path)
    data = tomllib.loads(text)
    stripped = [_strip(raw, spec) for raw, spec in zip(data["questions"], bank.questions)]
    released = _write(data, stripped, Path(path).name)
    _verify(released, bank)
    return released


def kept_formulas(path: Path) -> dict[str, list[str]]:
    """For each graded question that keeps a formula in its release: what stays and why."""
    bank = load_bank(path)
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    report = {}
    for raw, spec in zip(data["questions"], bank.questions):
        kept = _strip(raw, spec).kept
        if kept:
            report[spec.id] = kept
    return report


# ---------------------------------------------------------------- deciding what stays
def _strip(raw: dict[str, Any], spec: QuestionSpec) -> _Stripped:
    table = {k: raw[k] for k in KEPT_KEYS if k in raw and k not in ("derived", "constraints")}
    out = _Stripped(table)
    constraints = [str(c) for c in raw.get("constraints", [])]
    acceptance = _acceptance(raw, spec)
    if acceptance:
        constraints.append(acceptance)
        out.kept.append(f"constraint {acceptance!r}: the instructor's bank redraws until "
                        + ("exactly one option is right" if spec.kind == "choice" else "some option is right"))
    derived = dict(spec.derived)
    needs: dict[str, str] = {}   # derived name -> why it stays
    for text, node in spec.constraints:
        for name in names(node) & derived.keys():
            needs.setdefault(name, f"the constraint {text!r} uses it")
    for where, template in [("the prompt", spec.prompt)] + [("an option's text", o.text) for o in spec.options]:
        for m in PLACEHOLDER.finditer(template):
            if m.group(1) in derived:
                needs.setdefault(m.group(1), f"{where} shows it")
    params = {p.name: p for p in spec.params}
    for name, node in spec.derived:
        if not _total(node, params):
            needs.setdefault(name, "it is undefined for some parameters, where the bank redraws")
    if acceptance:
        for o in spec.options:
            if not isinstance(o.correct, bool):
                for name in names(o.correct) & derived.keys():
                    needs.setdefault(name, "the generated constraint uses it")
    keep = _closure(needs, derived)
    if keep:
        raw_derived = dict(raw.get("derived", {}))
        out.table["derived"] = {name: raw_derived[name] for name, _ in spec.derived if name in keep}
        for name, _ in spec.derived:
            if name in keep:
                why = needs.get(name) or "a kept derived value uses it"
                out.kept.append(f"derived {name} = {raw_derived[name]!r}: {why}")
    if constraints:
        out.table["constraints"] = constraints
    texts = [str(o.get("text", "")) for o in raw.get("options", [])]
    out.options = sorted(texts) if spec.shuffle else texts  # a variant shuffles from the sorted order anyway
    return out


def _acceptance(raw: dict[str, Any], spec: QuestionSpec) -> str | None:
    """The generated constraint that replaces "exactly one / at least one option is right"."""
    if spec.kind not in ("choice", "multi"):
        return None
    raw_correct = [o.get("correct", False) for o in raw.get("options", [])]
    conditions = sorted({f"({c})" for c in raw_correct if isinstance(c, str)})
    if not conditions:
        return None  # fixed correctness: the instructor's bank never redraws for it
    always = sum(c is True for c in raw_correct)
    if spec.kind == "multi":
        return None if always else " or ".join(conditions)
    if always:
        return " and ".join(f"not {c}" for c in conditions)
    return " or ".join("(" + " and ".join(c if j == i else f"not {c}" for j, c in enumerate(conditions)) + ")"
                       for i in range(len(conditions)))


def _closure(needs: dict[str, str], derived: dict[str, Node]) -> set[str]:
    keep: set[str] = set()
    todo = list(needs)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(names(derived[name]) & derived.keys())
    return keep


def _nonzero(node: Node, params: dict[str, ParamSpec]) -> bool:
    """A number other than 0, or a parameter that is never drawn as 0."""
    if isinstance(node, Num):
        return node.value != 0
    spec = params.get(node.name) if isinstance(node, Name) else None
    if spec is None:
        return False
    if spec.is_choice:
        return all(v != 0 for v in spec.values)
    return spec.low > 0 or spec.high < 0 or 0 in spec.exclude


def _total(node: Node, params: dict[str, ParamSpec]) -> bool:
    """True when the formula is defined (finite) for every value its parameters can be drawn as."""
    if isinstance(node, (Num, Name)):
        return True
    if isinstance(node, Unary):
        return _total(node.operand, params)
    if isinstance(node, Binary):
        if node.op == "/":
            return _nonzero(node.right, params) and _total(node.left, params)
        if node.op == "**":
            exponent = node.right
            return (isinstance(exponent, Num) and exponent.value >= 0 and exponent.value.denominator == 1
                    and _total(node.left, params))
        return _total(node.left, params) and _total(node.right, params)
    if isinstance(node, Call):
        if not all(_total(a, params) for a in node.args):
            return False
        if node.fn == "conv_out":
            return len(node.args) < 3 or _nonzero(node.args[2], params)
        if node.fn == "pool_out":
            stride = node.args[2] if len(node.args) >= 3 else node.args[1]
            return _nonzero(stride, params)
        return node.fn in _TOTAL_FUNCTIONS
    return False


# ---------------------------------------------------------------- writing TOML
def _write(data: dict[str, Any], questions: list[_Stripped], source: str) -> str:
    lines = [
        f"# Student release of the graded quiz bank {source}: prompts, parameters and constraints.",
        "# The answers, the mistakes and their hints, which options are right, the options' hints",
        "# and the explanations stay in the instructor's bank, which grades this quiz.",
        f"schema_version = {_value(data.get('schema_version', 1))}",
        f"unit = {_value(data['unit'])}",
        f"title = {_value(data.get('title', data['unit']))}",
        "released = true",
    ]
    defaults = data.get("defaults")
    if isinstance(defaults, dict) and defaults:
        lines += ["", "[defaults]"] + [f"{_key(k)} = {_value(v)}" for k, v in defaults.items()]
    for q in questions:
        lines += ["", "[[questions]]"]
        if q.kept:
            lines += ["# kept so that each variant is drawn as in the instructor's bank:"]
            lines += [f"#   {line}" for line in q.kept]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in q.table.items()]
        for text in q.options:
            lines += ["", "[[questions.options]]", f"text = {_value(text)}"]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[repr(value)]
        return repr(value)
    if isinstance(value, str):
        if "\n" in value and "'''" not in value and not value.endswith("'") and \
                not any(ord(c) < 32 and c not in "\n\t" for c in value):
            return "'''\n" + value + "'''"
        return json.dumps(value, ensure_ascii=False)   # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise BankError(f"cannot write {value!r} in a released bank")


def _verify(text: str, bank: Bank) -> None:
    """The released text loads as a released bank whose questions draw as the instructor's do."""
    released = parse_bank(tomllib.loads(text), path=bank.path)
    for mine, theirs in zip(released.questions, bank.questions, strict=True):
        same = (mine.id == theirs.id and mine.prompt == theirs.prompt and mine.params == theirs.params
                and mine.constraints[:len(theirs.constraints)] == theirs.constraints
                and sorted(o.text for o in mine.options) == sorted(o.text for o in theirs.options)
                and mine.shuffle == theirs.shuffle and mine.points == theirs.points
                and mine.variables == theirs.variables and mine.rtol == theirs.rtol)
        if not same:
            raise BankError(f"{bank.path}: question {theirs.id} does not survive the release unchanged")


__all__ = ["kept_formulas", "strip_bank"]
