"""Hints fire on realistic student code, and never on correct code (issue 9, section 4).

The collection (variants_unit1.py ... variants_unit5.py) is written the way
students write: loops, numpy-ish code, one-liners, helpers, classes; it
includes code with two bugs at once and bugs the catalogue does not name.
`python bench/hint_rate.py` prints the same measurement as a table.
"""
import pytest
import variants_unit1
import variants_unit2
import variants_unit3
import variants_unit4
import variants_unit5
from real_code import hint_rate, is_specific, outcome

from helpers import COURSE

MODULES = (variants_unit1, variants_unit2, variants_unit3, variants_unit4, variants_unit5)
WRONG = [v for module in MODULES for v in module.WRONG]
CORRECT = [v for module in MODULES for v in module.CORRECT]
TARGET = 0.80   # wrong variants with a specific, correct hint


@pytest.mark.parametrize("variant", WRONG, ids=[v.id for v in WRONG])
def test_wrong_code_fails_with_the_hint_it_deserves(variant):
    got = outcome(variant)
    assert got.lost_points, "a wrong implementation passed"
    assert got.hinted_as(variant.expected), (variant.expected, got.hints, got.messages[:3])


@pytest.mark.parametrize("variant", CORRECT, ids=[v.id for v in CORRECT])
def test_correct_code_in_an_unusual_style_passes_without_a_hint(variant):
    got = outcome(variant)
    assert got.passed and not got.hints, (got.messages[:3], got.hints)


def test_most_wrong_code_gets_a_specific_hint():
    rate = hint_rate(WRONG)
    specific = sum(is_specific(v) for v in WRONG)
    print(f"\nspecific, correct hints on {specific} of {len(WRONG)} wrong variants ({rate:.0%}); "
          f"{len(CORRECT)} correct variants, none hinted")
    assert rate >= TARGET


def test_the_collection_is_broad():
    assert len(WRONG) >= 60 and len(CORRECT) >= 20
    for module in MODULES:
        unit = module.WRONG[0].unit
        names = {e.name for e in COURSE.unit(unit).exercises}
        assert {v.exercise for v in module.WRONG + module.CORRECT} <= names
        assert all(v.unit == unit for v in module.WRONG + module.CORRECT)
    ids = [v.id for v in WRONG + CORRECT]
    assert len(ids) == len(set(ids))
