"""Answer parsing, format errors with carets, partial credit, reveal, timeouts, results JSON."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from quiz_support import SALT
from grader.quiz import (
    AnswersError, Bank, BankError, QuizResult, difficulty_table, grade_answers, make_variant,
    read_answers, render_markdown, validate_answers,
)
from grader.quiz.bank import parse_bank
from grader.quiz.equiv import prove_equal, run_with_timeout
from grader.quiz.expr import Grammar, ParseError, parse


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "finished"


def test_caret_points_at_the_problem() -> None:
    with pytest.raises(ParseError) as info:
        parse("2*x + y", Grammar(frozenset({"x"})))
    assert str(info.value) == ("unknown name 'y' (variables: x; functions: abs, cos, cosh, exp, log, "
                               "max, min, relu, sigma, sign, sin, sinh, sqrt, tan, tanh)\n"
                               "    2*x + y\n"
                               "          ^")


@pytest.mark.parametrize("text, message", [
    ("2x", "missing operator before 'x'"),
    ("x(2)", "'x' is a variable, not a function"),
    ("exp", "'exp' is a function"),
    ("exp(1, 2)", "exp() takes 1 argument(s), got 2"),
    ("x +", "the formula ends too early"),
    ("(x", "expected ')'"),
    ("", "the answer is empty"),
    ("x**1001", "exponent is too large"),
    ("2**900*2**900*2**900*2**900*2**900", "number is too large"),
    ("1/0", "division by zero"),
    ("__x", "names may not start with '_'"),
])
def test_format_error_messages(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        parse(text, Grammar(frozenset({"x"})))


def test_operators_and_precedence() -> None:
    g = Grammar(frozenset({"x"}))
    from grader.quiz.expr import evaluate
    assert evaluate(parse("-x**2", g), {"x": 3}) == -9
    assert evaluate(parse("2^3^2", g), {}) == 512
    assert evaluate(parse("ln(E) + Abs(-2) + Max(1, 3)", g), {}) == 6


def test_timeout_kills_a_slow_check() -> None:
    finished, reason = run_with_timeout(_sleep, (30.0,), timeout=0.5)
    assert not finished and "timed out" in reason
    assert run_with_timeout(_sleep, (0.0,), timeout=10.0) == (True, "finished")


def test_sympy_proof_when_points_cannot_decide() -> None:
    # log of a negative number is undefined at every sample point, so sympy decides.
    assert prove_equal("log(-1 - x**2) + 1", "1 + log(-1 - x**2)", ["x"], timeout=20) == "equal"
    assert prove_equal("log(-1 - x**2)", "log(-2 - x**2)", ["x"], timeout=20) == "different"


def test_pathological_but_well_formed_answer_is_cut_off(banks: dict[str, Bank]) -> None:
    v = make_variant(banks["unit1"], salt=SALT, student_id="s3001")
    text = "exp(exp(exp(exp(exp(1000)))))*x"
    result = grade_answers(v, {"sigmoid_derivative": text}, reveal=False, timeout=0.5)
    r = next(q for q in result.questions if q.question_id == "sigmoid_derivative")
    assert r.score == 0 and r.status in ("undecided", "incorrect")


def _unit(banks: dict[str, Bank], unit: str, student: str = "s3002"):
    return make_variant(banks[unit], salt=SALT, student_id=student)


def test_missing_format_error_and_unknown_are_reported_separately(banks: dict[str, Bank]) -> None:
    v = _unit(banks, "unit1")
    answers = {"sigmoid_derivative": "2*x +* 1", "softmax_facts": ["a", "z"],
               "perceptron_output": "one", "not_a_question": 3}
    results = {r.question_id: r for r in validate_answers(v, answers)}
    assert results["sigmoid_derivative"].status == "format_error"
    assert "^" in results["sigmoid_derivative"].message
    assert results["softmax_facts"].status == "format_error"
    assert "'z' is not an option" in results["softmax_facts"].message
    assert results["perceptron_output"].status == "format_error"
    assert results["delta_rule"].status == "missing"
    assert results["not_a_question"].status == "unknown"


def test_multi_partial_credit(banks: dict[str, Bank]) -> None:
    v = _unit(banks, "unit1")
    q = v.question("softmax_facts")
    right = [o.id for o in q.options if o.correct]
    wrong = [o.id for o in q.options if not o.correct]
    assert len(right) == 4 and len(wrong) == 2

    def score(ids: list[str]) -> float:
        result = grade_answers(v, {"softmax_facts": ids}, reveal=False)
        return next(r.score for r in result.questions if r.question_id == "softmax_facts")

    assert score(right) == 1
    assert score(right[:3]) == 0.75
    assert score(right[:3] + wrong[:1]) == 0.5
    assert score(right[:1] + wrong) == 0
    assert score([]) == 0


def test_messages_reveal_the_key_only_in_practice_mode(banks: dict[str, Bank]) -> None:
    v = _unit(banks, "unit2")
    q = v.question("gd_quadratic")
    wrong = q.answer + 10
    hidden = [r for r in grade_answers(v, {q.id: wrong}, reveal=False).questions if r.question_id == q.id][0]
    shown = [r for r in grade_answers(v, {q.id: wrong}, reveal=True).questions if r.question_id == q.id][0]
    key = f"{q.answer:.6g}"
    assert hidden.message == f"incorrect: got {wrong:.6g}"
    assert "right answer" not in hidden.message
    assert shown.message == f"incorrect: got {wrong:.6g}; the right answer is {key}. {q.spec.explain}"


def test_recognised_mistake_earns_a_hint(banks: dict[str, Bank]) -> None:
    v = _unit(banks, "unit2")
    p = v.question("gd_quadratic").params
    sign_error = float(p["w0"] + p["lr"] * 2 * p["a"] * (p["w0"] - p["c"]))
    r = [r for r in grade_answers(v, {"gd_quadratic": sign_error}, reveal=False).questions
         if r.question_id == "gd_quadratic"][0]
    assert r.score == 0 and "hint: gradient descent steps against the gradient" in r.message


def test_numeric_answers_accept_formulas_and_tolerance(banks: dict[str, Bank]) -> None:
    v = _unit(banks, "unit2")
    q = v.question("lr_decay")
    p = q.params
    formula = f"{p['lr0']}/(1 + {p['k']}*{p['t']})"
    for answer, status in [(formula, "correct"), (q.answer * (1 + 5e-4), "correct"),
                           (q.answer * (1 + 5e-3), "incorrect"), (True, "format_error"),
                           ("nan", "format_error"), ("1e400", "format_error")]:
        r = [r for r in grade_answers(v, {q.id: answer}, reveal=False).questions if r.question_id == q.id][0]
        assert r.status == status, (answer, r.message)


def test_quiz_result_json_round_trip_and_difficulty(banks: dict[str, Bank]) -> None:
    v = _unit(banks, "unit3")
    result = grade_answers(v, {"l2_step": v.question("l2_step").answer}, reveal=False)
    data = result.to_json()
    assert set(data) == {"score", "max_score", "questions"}
    # the student's own answer travels with the verdict (the gradebook keeps it for item analysis)
    assert data["questions"]["l2_step"] == {"score": 1.0, "max_score": 1.0, "message": "correct",
                                            "answer": v.question("l2_step").answer}
    assert "answer" not in data["questions"][v.questions[-1].id] or v.questions[-1].id == "l2_step"
    assert data["score"] == 1.0 and data["max_score"] == len(v.questions)
    again = QuizResult.from_json(data)
    assert again.to_json() == data
    table = difficulty_table([result, again, QuizResult.from_json({"questions": {
        "l2_step": {"score": 0, "max_score": 1, "message": "incorrect"}}})])
    lines = table.splitlines()
    assert lines[0].split() == ["question", "students", "mean", "full", "marks"]
    assert "l2_step" in lines[-2] and lines[-2].split()[1:] == ["3", "67%", "67%"]


def test_read_answers_reports_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    path.write_text('q1 = 3\nq2 = b\n', encoding="utf-8")
    with pytest.raises(AnswersError, match=r"not valid TOML.*line 2"):
        read_answers(path)
    with pytest.raises(AnswersError, match="no answers file"):
        read_answers(tmp_path / "missing.toml")
    path.write_bytes(b"\xff\xfe q = 1")
    with pytest.raises(AnswersError):
        read_answers(path)


def test_bank_errors_name_the_question() -> None:
    base = {"unit": "unitx", "questions": [{"id": "q1", "kind": "integer", "prompt": "{n}?",
                                            "params": {"n": {"int": [1, 3]}}, "answer": "n +"}]}
    with pytest.raises(BankError, match="question q1: answer: the formula ends too early"):
        parse_bank(base)
    base["questions"][0]["answer"] = "n/2"
    bank = parse_bank(base)
    with pytest.raises(BankError, match="not an integer"):
        for s in ["a", "b", "c", "d", "e", "f"]:
            make_variant(bank, salt="x", student_id=s)
    base["questions"][0]["prompt"] = "{m}?"
    with pytest.raises(BankError, match="placeholder {m} names no parameter"):
        parse_bank(base)


def test_conv_out_size_rounds_down_when_the_stride_does_not_divide(banks: dict[str, Bank]) -> None:
    uneven = 0
    for i in range(60):
        q = make_variant(banks["unit5"], salt=SALT, student_id=f"c{i}").question("conv_out_size")
        p = {k: int(v) for k, v in q.params.items()}
        assert q.answer == (p["n"] + 2 * p["p"] - p["k"]) // p["s"] + 1
        uneven += (p["n"] + 2 * p["p"] - p["k"]) % p["s"] != 0
    assert uneven >= 10, "the question should often need the floor"


def test_markdown_shows_the_students_numbers(banks: dict[str, Bank]) -> None:
    v = _unit(banks, "unit2")
    md = render_markdown(v)
    p = v.question("backprop_dx").params
    assert f"x = {p['x']}, y = {p['y']}, z = {p['z']}" in md
    assert md.count("\n## ") == len(v.questions) + 1
    assert "# backprop_dx = 42" in md
