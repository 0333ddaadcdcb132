"""Every unit's bank: deterministic variants, keys that score full marks, equivalent
forms accepted, perturbed answers rejected, keys confirmed by torch, hostile input refused."""

from __future__ import annotations

import builtins
import math
from pathlib import Path
from typing import Any

import pytest
import sympy

from quiz_support import SALT, UNITS
from grader.quiz import Bank, grade_answers, key_json, make_variant, validate_answers
from grader.quiz.expr import Grammar, evaluate, parse, to_sympy
from grader.quiz.model import Question, Variant
from oracles import ORACLES

STUDENTS = ["s1001", "s1002", "s1003"]
CALCULATED = ("integer", "numeric", "shape", "symbolic")
# Oracles that sample random weights: compared with a looser tolerance.
SAMPLED_RTOL = {("unit2", "he_init_std"): 0.03, ("unit2", "xavier_bound"): 0.01,
                ("unit2", "lecun_init_std"): 0.03, ("unit2", "glorot_normal_std"): 0.03}


def _forbidden(*args: object, **kwargs: object) -> None:
    raise AssertionError("eval/exec was called while grading")


def full_key(v: Variant) -> dict[str, Any]:
    return {q["id"]: q["answer"] for q in key_json(v)["questions"]}


def grade_one(v: Variant, qid: str, answer: Any) -> Any:
    """Grade a single answer and return that question's result."""
    result = grade_answers(v, {qid: answer}, reveal=False)
    return next(r for r in result.questions if r.question_id == qid)


def variants(bank: Bank, students: list[str] = STUDENTS) -> list[Variant]:
    return [make_variant(bank, salt=SALT, student_id=s) for s in students]


@pytest.mark.parametrize("unit", UNITS)
def test_bank_size_and_kinds(banks: dict[str, Bank], unit: str) -> None:
    qs = banks[unit].questions
    assert len(qs) >= 8
    assert sum(q.parameterized for q in qs) * 2 >= len(qs), "at least half must be parameterized"


def test_all_kinds_are_used(banks: dict[str, Bank]) -> None:
    kinds = {q.kind for b in banks.values() for q in b.questions}
    assert kinds == {"choice", "multi", "integer", "numeric", "shape", "symbolic"}


@pytest.mark.parametrize("unit", UNITS)
def test_keys_deterministic_and_differ_between_students(banks: dict[str, Bank], unit: str) -> None:
    bank = banks[unit]
    a1, a2 = (key_json(make_variant(bank, salt=SALT, student_id="alice")) for _ in range(2))
    assert a1 == a2
    others = [key_json(v) for v in variants(bank, ["bob", "carol", "dave", "erin", "frank"])]
    for other in others:
        assert other["questions"] != a1["questions"]
    assert key_json(make_variant(bank, salt="another-term", student_id="alice")) != a1
    for i, spec in enumerate(bank.questions):
        seen = {repr(k["questions"][i]["params"]) + repr(k["questions"][i]["options"])
                for k in [a1] + others}
        if spec.parameterized or len(spec.options) > 1:
            assert len(seen) > 1, f"{spec.id} is the same for every student"


def test_variants_are_stable_across_releases(banks: dict[str, Bank]) -> None:
    # Golden values: changing the seeding scheme would silently change every student's quiz.
    key = key_json(make_variant(banks["unit2"], salt=SALT, student_id="alice"))
    got = {q["id"]: (q["params"], q["answer"]) for q in key["questions"][:3]}
    assert got == {
        "backprop_dx": ({"x": 3, "y": 3, "z": -1}, -1),
        "backprop_dz": ({"x": 4, "y": 4, "z": -2}, 8),
        "gd_quadratic": ({"a": 1, "c": 0, "w0": 3, "lr": 0.1}, 2.4),
    }


@pytest.mark.parametrize("unit", UNITS)
def test_every_key_scores_full_marks(banks: dict[str, Bank], unit: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    vs = variants(banks[unit])
    monkeypatch.setattr(builtins, "eval", _forbidden)  # grading never evaluates Python text
    monkeypatch.setattr(builtins, "exec", _forbidden)
    for v in vs:
        answers = full_key(v)
        assert all(r.status == "ok" for r in validate_answers(v, answers))
        result = grade_answers(v, answers, reveal=False)
        bad = [(r.question_id, r.message) for r in result.questions if r.status != "correct"]
        assert not bad
        assert result.score == result.max_score == sum(q.points for q in v.questions)


def equivalent_forms(q: Question) -> list[Any]:
    """Other ways a student could correctly write the key."""
    key = q.answer
    if q.kind == "choice":
        return [key.upper(), f" {key} "]
    if q.kind == "multi":
        return [list(reversed(key)), ", ".join(key)]
    if q.kind == "integer":
        return [float(key), str(key), f"{key - 3} + 3"]
    if q.kind == "shape":
        return [str(tuple(key)), f"torch.Size({key})", " x ".join(map(str, key))]
    if q.kind == "numeric":
        return [sympy.sstr(q.exact), str(key)]
    expr = to_sympy(parse(key, Grammar(frozenset(v[0] for v in q.spec.variables))))
    return [sympy.sstr(sympy.expand(expr)), sympy.sstr(sympy.factor(expr)),
            sympy.sstr(expr, order="rev-lex"), f"({key})*2/2", f"0 + {key}"]


@pytest.mark.parametrize("unit", UNITS)
def test_equivalent_forms_score_full_marks(banks: dict[str, Bank], unit: str) -> None:
    v = make_variant(banks[unit], salt=SALT, student_id="s2001")
    for q in v.questions:
        for form in equivalent_forms(q):
            result = grade_one(v, q.id, form)
            assert result.status == "correct", (q.id, form, result.message)


def test_hand_written_equivalent_forms(banks: dict[str, Bank]) -> None:
    v = make_variant(banks["unit1"], salt=SALT, student_id="s2001")
    a = v.question("sigmoid_derivative").params["a"]
    forms = {
        "sigmoid_derivative": [f"{a}*sigma({a}*x)*(1 - sigma({a}*x))",
                               f"{a}*exp(-{a}*x)/(1 + exp(-{a}*x))^2",
                               f"{a}*sigmoid({a}*x) - {a}*sigmoid({a}*x)**2"],
    }
    q = v.question("tanh_derivative")
    qa, qb = q.params["a"], q.params["b"]
    forms["tanh_derivative"] = [f"{qa}/cosh({qa}*x + ({qb}))**2", f"{qa} - {qa}*tanh({qb} + {qa}*x)**2"]
    for qid, texts in forms.items():
        for text in texts:
            r = grade_one(v, qid, text)
            assert r.status == "correct", (qid, text, r.message)


def perturbed(q: Question) -> list[Any]:
    key = q.answer
    if q.kind == "choice":
        return [o.id for o in q.options if not o.correct]
    if q.kind == "multi":
        return [[o.id for o in q.options if not o.correct]]
    if q.kind == "integer":
        return [key + 1, key - 1]
    if q.kind == "shape":
        return [[key[0] + 1] + key[1:], key[:-1], key + [1]]
    if q.kind == "numeric":
        return [key + 0.5 * max(1.0, abs(key)), -key - 1.0]
    return [f"({key}) + 1", f"2*({key}) + 1"]


@pytest.mark.parametrize("unit", UNITS)
def test_perturbed_answers_score_zero(banks: dict[str, Bank], unit: str) -> None:
    v = make_variant(banks[unit], salt=SALT, student_id="s2002")
    for q in v.questions:
        for wrong in perturbed(q):
            r = grade_one(v, q.id, wrong)
            assert r.score == 0 and r.status == "incorrect", (q.id, wrong, r.message)


def symbolic_points(q: Question) -> list[dict[str, float]]:
    points = []
    for f in (0.13, 0.41, 0.77):
        env = {}
        for name, lo, hi in q.spec.variables:
            value = lo + (hi - lo) * f
            env[name] = float(round(value)) if hi - lo >= 10 else value  # wide domains: sizes
        points.append(env)
    return points


@pytest.mark.parametrize("unit", UNITS)
def test_calculated_keys_agree_with_torch(banks: dict[str, Bank], unit: str) -> None:
    bank = banks[unit]
    missing = [q.id for q in bank.questions if q.kind in CALCULATED and (unit, q.id) not in ORACLES]
    assert not missing, f"calculated questions without a torch oracle: {missing}"
    for v in variants(bank):
        for q in v.questions:
            if q.kind not in CALCULATED:
                continue
            params = key_json(v)["questions"][v.questions.index(q)]["params"]
            expected = ORACLES[(unit, q.id)](params)
            where = (v.student, q.id, params)
            if q.kind in ("integer", "shape"):
                assert q.answer == expected, where
            elif q.kind == "numeric":
                rtol = SAMPLED_RTOL.get((unit, q.id), 1e-9)
                assert math.isclose(q.answer, expected, rel_tol=rtol, abs_tol=1e-12), where
            else:
                node = parse(q.answer, Grammar(frozenset(n for n, _, _ in q.spec.variables)))
                for env in symbolic_points(q):
                    assert math.isclose(evaluate(node, env), expected(env), rel_tol=1e-9), (where, env)


HOSTILE = [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w').write('x')",
    "exec(\"open('{marker}','w')\")",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "lambda: open('{marker}', 'w')",
    "9**9**9**9",
    "x**(10**100000)",
    "10**10**10",
    "1e999999",
    "(" * 500 + "x" + ")" * 500,
    "x" + "+x" * 2000,
    "\x00",
]


@pytest.mark.parametrize("unit", UNITS)
def test_hostile_answers_are_format_errors_and_run_nothing(
        banks: dict[str, Bank], unit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "MARKER"

    monkeypatch.setattr(builtins, "eval", _forbidden)
    monkeypatch.setattr(builtins, "exec", _forbidden)
    v = make_variant(banks[unit], salt=SALT, student_id="mallory")
    for template in HOSTILE:
        text = template.replace("{marker}", str(marker))
        answers = {q.id: text for q in v.questions}
        checked = validate_answers(v, answers)
        graded = grade_answers(v, answers, reveal=True, timeout=1.0)
        for r in checked + graded.questions:
            assert r.status == "format_error", (template[:40], r.question_id, r.message)
            assert r.score == 0
    assert not marker.exists()
