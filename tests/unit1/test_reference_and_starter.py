"""Every Unit 1 check passes on the references and fails on the untouched starter."""
from helpers import ROOT, assert_references_pass, assert_starter_fails_every_exercise


def test_references_pass_every_check():
    assert_references_pass("unit1", ROOT / "solutions" / "unit1" / "shallow.py")


def test_starter_notebook_fails_every_exercise():
    assert_starter_fails_every_exercise("unit1")
