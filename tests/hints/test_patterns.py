"""The pure pieces of hint recognition: failing parts, what explains them, and how hints are chosen."""
import numpy as np

from grader.compare import patterns
from grader.hints import NO_OUTPUT, recognise
from grader.runner.wire import Array
from grader.spec import Mistake


def tol(dtype):
    return 1e-6, 1e-8


def arr(*values):
    return Array(np.asarray(values, dtype=np.float64), "float64")


def test_failing_parts_name_the_leaves_that_fail_and_whether_they_are_continuous():
    expected = (arr(1.0), {"w": arr(1.0, 2.0), "n": 3}, "ok")
    actual = (arr(1.0), {"w": arr(1.0, 5.0), "n": 4}, "ok")
    assert patterns.failing_parts(actual, expected, tol) == {(1, "w"): True, (1, "n"): False}
    assert patterns.failing_parts((arr(1.0),), expected, tol) == {(): False}   # structure


def test_a_mistake_explains_the_failing_elements_whatever_the_kind_of_overflow():
    expected = arr(0.1, 0.2, 0.7)
    student = arr(0.1, np.inf, np.nan)
    mistake = arr(0.1, np.nan, np.nan)
    assert patterns.explains(student, mistake, expected, tol)
    assert not patterns.explains(student, arr(0.1, 0.2, np.nan), expected, tol)   # 0.2 is not inf


def test_a_few_stray_elements_are_not_a_mistake_that_gets_everything_wrong():
    expected = arr(*range(10))
    flipped = arr(*(-v for v in range(10)))
    student = arr(0, -1, -2, *range(3, 10))   # wrong at 1 and 2 only, like the mistake there
    assert not patterns.explains(student, flipped, expected, tol)
    assert patterns.explains(arr(*(-v for v in range(10))), flipped, expected, tol)


def _recognise(mistakes, outputs, actual, expected, inputs=None):
    return recognise(mistakes, lambda i: outputs[i], actual, expected, inputs or {}, tol)


def test_two_mistakes_explain_a_loss_and_a_gradient_together():
    expected = (arr(1.0), arr(0.5, -0.5))
    student = (arr(4.0), arr(-0.5, 0.5))
    summed = Mistake("summed", {"f": None})
    flipped = Mistake("flipped", {"f": None})
    other = Mistake("other", {"f": None})
    outputs = [(arr(4.0), arr(2.0, -2.0)), (arr(1.0), arr(-0.5, 0.5)), NO_OUTPUT]
    assert _recognise((summed, flipped, other), outputs, student, expected) == "summed; also, flipped"


def test_one_mistake_that_explains_everything_beats_a_pair():
    expected = (arr(1.0), arr(0.5, -0.5))
    student = (arr(4.0), arr(2.0, -2.0))
    outputs = [(arr(4.0), arr(0.5, -0.5)), (arr(4.0), arr(2.0, -2.0))]
    mistakes = (Mistake("loss only", {"f": None}), Mistake("both", {"f": None}))
    assert _recognise(mistakes, outputs, student, expected) == "both"


def test_a_part_no_mistake_explains_still_gets_the_hint_for_the_rest():
    expected = (arr(1.0), arr(0.5, -0.5))
    student = (arr(4.0), arr(0.0, 0.0))
    outputs = [(arr(4.0), arr(0.5, -0.5))]
    assert _recognise((Mistake("loss", {"f": None}),), outputs, student, expected) == "loss"


def test_discrete_parts_alone_name_no_mistake():
    expected = (3, 5)
    student = (4, 5)
    outputs = [(4, 6)]
    assert _recognise((Mistake("one later", {"f": None}),), outputs, student, expected) is None


def test_predicates_see_the_failure_and_a_crashing_one_is_ignored():
    expected = (arr(2.0), arr(0.5, -0.5))
    log_of_zero = (arr(np.inf), arr(0.5, -0.5))
    overflow = (arr(np.nan), arr(np.nan, -0.5))
    crashes = Mistake("never", when=lambda a, e, i: 1 / 0)
    mistakes = (crashes, Mistake("no max", when=patterns.overflow((1,))),
                Mistake("log-sum-exp", when=patterns.nonfinite_only((0,))))
    assert _recognise(mistakes, [None] * 3, log_of_zero, expected) == "log-sum-exp"
    assert _recognise(mistakes, [None] * 3, overflow, expected) == "no max"
    flag = Mistake("own mask", when=patterns.flag_off("own mask"))
    assert _recognise((flag,), [None], {"own mask": False}, {"own mask": True}) == "own mask"
