"""Every Unit 1 check passes on the references and fails on the untouched starter."""
import shutil

from helpers import ROOT, assert_references_pass, assert_starter_fails_every_exercise

REFERENCES = ("shallow.py", "autoencoder.py")


def test_references_pass_every_check(tmp_path):
    for name in REFERENCES:
        shutil.copy(ROOT / "solutions" / "unit1" / name, tmp_path / name)
    assert_references_pass("unit1", tmp_path)


def test_starter_notebook_fails_every_exercise():
    assert_starter_fails_every_exercise("unit1")
