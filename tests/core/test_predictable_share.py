"""Checks whose answer is known in advance weigh little (docs/security.md, "What the worker could still fake")."""
import numpy as np
import pytest

from grader.checking import case_seed
from grader.spec.loader import load_unit_spec

from helpers import COURSE

PREDICTABLE_DRIVERS = ("call_raises", "module_raises")   # the answer is always "raises <Error>"
MAX_SHARE = 0.10


@pytest.mark.parametrize("unit", [u.id for u in COURSE.units])
def test_predictable_checks_are_under_a_tenth_of_each_exercise(unit):
    spec = load_unit_spec(COURSE, COURSE.unit(unit))
    shares = {}
    for name, exercise in spec.exercises.items():
        cases = exercise.cases(np.random.default_rng(case_seed(unit, name, -1)))
        predictable = sum(c.weight for c in cases if c.driver in PREDICTABLE_DRIVERS)
        shares[name] = predictable / sum(c.weight for c in cases)
    assert {n: s for n, s in shares.items() if s >= MAX_SHARE} == {}
