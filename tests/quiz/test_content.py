"""The course's question content: the review's fixes hold for many students, every question
explains itself, and the questions added for issue 12 have keys confirmed independently
(torch or plain Python for calculated ones, a truth table written here for choice ones)."""

from __future__ import annotations

import math
import random
import tomllib
from typing import Any

import pytest
import torch
from torch import nn

from quiz_support import ROOT, SALT, UNITS
from grader.quiz import Bank, grade_answers, make_variant
from grader.quiz.model import Question, Variant
from grader.quiz.variants import instantiate, params_json, question_seed
from oracles import ORACLES, _receptive_width

MANY = [f"m{i:04d}" for i in range(400)]
SAMPLE = [f"n{i:03d}" for i in range(25)]
SAMPLED_RTOL = {"lecun_init_std": 0.03, "glorot_normal_std": 0.03}

# Where each new topic lives: the unit whose lecture notes treat it (seeds 000, 001, 003).
NEW_CALCULATED = {
    "unit1": ["least_squares_slope", "normal_equation_weight", "autoencoder_params", "saliency_gradient"],
    "unit2": ["lecun_init_std", "glorot_normal_std"],
    "unit3": ["elastic_net_step", "elastic_net_penalty"],
    "unit4": ["seq2seq_logits_shape"],
    "unit5": ["vgg_stack_savings", "inception_bottleneck_params"],
}
# The options judged right, written out here rather than read from the bank.
NEW_CHOICE_TRUTH: dict[tuple[str, str], set[str]] = {
    ("unit1", "normal_equation_facts"): {
        "It gives the weights that minimise the sum of squared errors in one step, without iterating",
        "It fails when two features are perfectly collinear, because XᵀX is then not invertible",
        "For very large data sets (S)GD is often preferred, since forming and inverting XᵀX gets expensive"},
    ("unit1", "autoencoder_facts"): {
        "It is trained to reproduce its own input, so it needs no labels",
        "A code layer narrower than the input forces it to learn a compressed representation",
        "Points it reconstructs badly are candidates for outliers"},
    ("unit1", "saliency_facts"): {
        "The features with the largest absolute saliency influence the decision most",
        "A positive saliency means that slightly increasing x_i raises o_m",
        "It is computed by backpropagation carried on through the first layer to the input"},
    ("unit2", "init_schemes"): {
        "LeCun initialisation uses the weight variance 1/fan-in",
        "When fan-in equals fan-out, Glorot and LeCun initialisation give the same variance",
        "He initialisation uses twice LeCun's variance, to make up for ReLU zeroing about half of its inputs"},
    ("unit3", "elastic_net_facts"): {
        "With α = 0 it is the L1 (lasso) penalty", "With α = 1 it is the L2 (ridge) penalty",
        "Its L1 part can set some weights exactly to zero, which selects features"},
    ("unit3", "augmentation_digits"): {
        "Shifting the image by two pixels in any direction", "Rotating it by at most 10 degrees",
        "Changing its brightness and contrast slightly"},
    ("unit3", "augmentation_colour_bias"): {"Random colour (hue) shifts, together with horizontal flips"},
    ("unit4", "rnn_types"): {
        "Image captioning: one to many (one image in, a sequence of words out)",
        "Deciding the sentiment of a sentence: many to one",
        "Translating a sentence into another language: many to many"},
    ("unit4", "teacher_forcing"): {"The correct target word of step t − 1"},
    ("unit4", "seq2seq_facts"): {
        "The encoder reads the whole source sentence and passes a summary of it to the decoder in its final hidden state",
        "The source and the target sentence may have different lengths",
        "At test time the decoder feeds each word it predicts back in as its next input"},
    ("unit5", "transfer_freeze"): {
        "Freeze the pretrained layers, replace the 1000-class output layer by a new 2-class layer, "
        "and train only the new layer"},
    ("unit5", "finetune_lr"): {"A much smaller one than before, for example ten to a hundred times smaller"},
    ("unit5", "transfer_fails"): {
        "When the new images are very unlike natural photos, for example spectrograms or microscope slides",
        "When the classes differ in a detail that the top layers' features ignore, such as an open versus a closed door"},
}


def one(bank: Bank, qid: str, student: str) -> Question:
    """One student's instance of one question (without drawing the rest of the bank)."""
    spec = bank.question(qid)
    return instantiate(spec, random.Random(question_seed(SALT, bank.unit, student, qid)))


def grade(question: Question, answer: Any) -> Any:
    variant = Variant(unit="u", student="s", title="t", questions=(question,))
    return grade_answers(variant, {question.id: answer}, reveal=False).questions[0]


def raw_questions(unit: str) -> dict[str, dict[str, Any]]:
    data = tomllib.loads((ROOT / "quizzes" / f"{unit}.toml").read_text(encoding="utf-8"))
    return {q["id"]: q for q in data["questions"]}


# ---------------------------------------------------------------- explanations
@pytest.mark.parametrize("unit", UNITS)
def test_every_question_explains_why(banks: dict[str, Bank], unit: str) -> None:
    raw = raw_questions(unit)
    for spec in banks[unit].questions:
        text = spec.explain
        assert len(text) >= 60, f"{unit} {spec.id}: explain is missing or too short to say why"
        right = [o.text for o in spec.options if o.correct is True]
        assert text not in right, f"{spec.id}: the explanation only repeats the right option"
        answer = raw[spec.id].get("answer")
        formulas = answer if isinstance(answer, list) else [answer] if answer else []
        assert all(len(f) < 4 or f not in text for f in formulas), f"{spec.id}: restates the key's formula"


def wrong_answer(q: Question) -> Any:
    if q.kind == "choice":
        return next(o.id for o in q.options if not o.correct)
    if q.kind == "multi":
        return [o.id for o in q.options if not o.correct][:1]
    if q.kind == "integer":
        return q.answer + 1
    if q.kind == "numeric":
        return q.answer * 1.5 + 1
    if q.kind == "shape":
        return [d + 1 for d in q.answer]
    return f"({q.answer}) + 1"


def test_practice_feedback_on_a_wrong_answer_shows_the_explanation(banks: dict[str, Bank]) -> None:
    variant = make_variant(banks["unit1"], salt=SALT, student_id="s5000")
    answers = {q.id: wrong_answer(q) for q in variant.questions}
    result = grade_answers(variant, answers, reveal=True)
    for q, r in zip(variant.questions, result.questions, strict=True):
        assert r.status != "correct" and q.spec.explain in r.message, (q.id, r.message)


# ---------------------------------------------------------------- the review's fixes
def test_hinge_loss_is_never_zero_and_matches_torch(banks: dict[str, Bank]) -> None:
    keys = []
    for student in MANY:
        q = one(banks["unit1"], "hinge_loss", student)
        p = params_json(q.params)
        scores = [p["s1"], p["s2"], p["s3"], p["s4"]]
        correct = scores[p["c"] - 1]
        by_hand = sum(max(0, s - correct + 1) for j, s in enumerate(scores) if j != p["c"] - 1)
        assert q.answer == by_hand == ORACLES[("unit1", "hinge_loss")](p) >= 1, (student, p)
        keys.append(q.answer)
    assert len(set(keys)) >= 5


def test_conv_out_size_draws_uneven_strides_and_floors_like_torch(banks: dict[str, Bank]) -> None:
    uneven = 0
    for student in MANY[:150]:
        q = one(banks["unit5"], "conv_out_size", student)
        p = params_json(q.params)
        span = p["n"] + 2 * p["p"] - p["k"]
        if span % p["s"] == 0:
            continue
        uneven += 1
        conv = nn.Conv2d(1, 1, p["k"], stride=p["s"], padding=p["p"])
        with torch.no_grad():
            height = conv(torch.zeros(1, 1, p["n"], p["n"])).shape[2]
        assert q.answer == height == math.floor(span / p["s"]) + 1, p
        rounded_up = math.ceil(span / p["s"]) + 1
        r = grade(q, rounded_up)
        assert r.score == 0 and "round down" in r.message, r.message
    assert uneven >= 30, "strides that do not divide n + 2p − k should be common"


@pytest.mark.parametrize("unit, qid, exact_case, written", [
    ("unit4", "bptt_factor", {"w": 0.9, "T": 23}, "0.0886"),
    ("unit2", "sigmoid_chain_factor", {"L": 10}, "9.54e-7"),
])
def test_power_questions_accept_a_rounded_answer(banks: dict[str, Bank], unit: str, qid: str,
                                                 exact_case: dict[str, float], written: str) -> None:
    bank = banks[unit]
    found = None
    for i in range(5000):
        q = one(bank, qid, f"p{i}")
        if params_json(q.params) == exact_case:
            found = q
            break
    assert found is not None, f"no student drew {exact_case}"
    assert grade(found, written).status == "correct"
    assert grade(found, float(written)).status == "correct"
    for student in SAMPLE:
        q = one(bank, qid, student)
        assert grade(q, float(f"{q.answer:.4g}")).status == "correct", (student, q.answer)
        assert grade(q, q.answer * 1.01).status == "incorrect", (student, q.answer)
        assert grade(q, 0).status == "incorrect", (student, q.answer)   # atol 0: a tiny key is not 0


def test_pooling_facts_claims_a_2x2_window_and_that_claim_holds_in_torch(banks: dict[str, Bank]) -> None:
    spec = banks["unit5"].question("pooling_facts")
    halves = next(o for o in spec.options if "halves" in o.text)
    assert halves.correct is True and "2×2" in halves.text
    for n in range(2, 41):
        out = nn.MaxPool2d(2, stride=2)(torch.zeros(1, 1, n, n)).shape[2]
        assert out == n // 2
    # the unit's own 3×3/s2/p1 pool does not halve with rounding down: the option must not claim it
    assert nn.MaxPool2d(3, stride=2, padding=1)(torch.zeros(1, 1, 7, 7)).shape[2] == 4


def test_receptive_field_facts_wording_holds(banks: dict[str, Bank]) -> None:
    spec = banks["unit5"].question("receptive_field_facts")
    growth = next(o for o in spec.options if "never shrinks" in o.text)
    assert growth.correct is True and "wider than 1" in growth.text
    assert not any(o.correct is True and "grows as more" in o.text for o in spec.options)
    base = [nn.Conv2d(1, 1, 3)]
    width = _receptive_width(nn.Sequential(*base), 15)
    assert _receptive_width(nn.Sequential(*base, nn.Conv2d(1, 1, 1)), 15) == width      # 1×1: unchanged
    assert _receptive_width(nn.Sequential(*base, nn.Conv2d(1, 1, 3)), 15) > width       # 3×3: grows


# ---------------------------------------------------------------- the new questions
@pytest.mark.parametrize("unit", UNITS)
def test_new_calculated_keys_agree_with_torch_for_many_students(banks: dict[str, Bank], unit: str) -> None:
    for qid in NEW_CALCULATED[unit]:
        seen = set()
        for student in SAMPLE:
            q = one(banks[unit], qid, student)
            p = params_json(q.params)
            expected = ORACLES[(unit, qid)](p)
            seen.add(repr(p))
            if q.kind in ("integer", "shape"):
                assert q.answer == expected, (qid, p)
            else:
                rtol = SAMPLED_RTOL.get(qid, 1e-9)
                assert math.isclose(q.answer, expected, rel_tol=rtol, abs_tol=1e-12), (qid, p, q.answer, expected)
        assert len(seen) > 3, f"{qid} hardly varies between students"


def test_new_calculated_keys_by_plain_python(banks: dict[str, Bank]) -> None:
    """A second, torch-free check of the formulas most easily mistyped."""
    for student in SAMPLE:
        p = params_json(one(banks["unit1"], "normal_equation_weight", student).params)
        rows = [(p["a1"], p["b1"]), (p["a2"], p["b2"]), (p["a3"], p["b3"])]
        ys = [p["y1"], p["y2"], p["y3"]]
        # Cramer's rule on XᵀX w = Xᵀy
        g11, g12 = sum(a * a for a, _ in rows), sum(a * b for a, b in rows)
        g22 = sum(b * b for _, b in rows)
        r1, r2 = sum(a * y for (a, _), y in zip(rows, ys)), sum(b * y for (_, b), y in zip(rows, ys))
        w1 = (r1 * g22 - g12 * r2) / (g11 * g22 - g12 * g12)
        assert math.isclose(one(banks["unit1"], "normal_equation_weight", student).answer, w1, abs_tol=1e-12)

        p = params_json(one(banks["unit5"], "vgg_stack_savings", student).params)
        k = 2 * p["L"] + 1
        single, stack = k * k * p["c"] ** 2 + p["c"], p["L"] * (9 * p["c"] ** 2 + p["c"])
        assert one(banks["unit5"], "vgg_stack_savings", student).answer == single - stack

        p = params_json(one(banks["unit3"], "elastic_net_step", student).params)
        sign = 1 if p["w"] > 0 else -1
        grad = p["g"] + p["lam"] * ((1 - p["a"]) * sign + 2 * p["a"] * p["w"])
        assert math.isclose(one(banks["unit3"], "elastic_net_step", student).answer, p["w"] - p["lr"] * grad,
                            abs_tol=1e-12)


@pytest.mark.parametrize("unit, qid", sorted(NEW_CHOICE_TRUTH))
def test_new_choice_keys_match_the_truth_table(banks: dict[str, Bank], unit: str, qid: str) -> None:
    truth = NEW_CHOICE_TRUTH[(unit, qid)]
    spec = banks[unit].question(qid)
    assert truth <= {o.text for o in spec.options}, "the truth table names an option the bank lacks"
    wrong = [o for o in spec.options if o.text not in truth]
    assert len(wrong) >= 2, "a choice question needs plausible distractors"
    assert all(o.hint for o in wrong), "every distractor says why it is wrong"
    for student in SAMPLE[:10]:
        q = one(banks[unit], qid, student)
        right_ids = sorted(o.id for o in q.options if o.text in truth)
        assert (sorted(q.answer) if q.kind == "multi" else [q.answer]) == right_ids, student


def test_every_new_question_is_in_a_bank() -> None:
    for unit, qids in NEW_CALCULATED.items():
        assert set(qids) <= set(raw_questions(unit)), unit
    for unit, qid in NEW_CHOICE_TRUTH:
        assert qid in raw_questions(unit), (unit, qid)
