"""A student with only the release and the grader's wheel gets the instructor course's public verdicts and hints."""
from __future__ import annotations

import subprocess

import pytest
from helpers import ROOT
from release_support import (UNITS, at_grading, grader_check, main_python, python_of, submit_mistakes,
                             submit_references, verdicts)


def test_the_student_venv_has_the_wheel_and_no_checkout(student_venv, release):
    probe = ("import grader, importlib.util as u, sys; print(grader.__file__); "
             "print([m for m in ('solutions', '_grader_course', 'shallow') if u.find_spec(m)]); "
             f"print([p for p in sys.path if p.startswith({str(ROOT)!r}) and not p.startswith({str(ROOT / '.venv')!r})])")
    out = subprocess.run([str(python_of(student_venv)), "-c", probe], cwd=release, capture_output=True, text=True,
                         check=True, timeout=120, env={"PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out[0].startswith(str(student_venv)) and out[1:] == ["[]", "[]"], out


def _submissions(unit, release, tmp_path):
    yield "starter", release / "exercises" / unit, []
    yield "references", submit_references(unit, tmp_path / "references"), []
    for pick in (0, -1):
        folder, chosen = submit_mistakes(unit, tmp_path / f"mistakes{pick}", pick)
        yield f"mistakes {pick}", folder, chosen
    if unit == "unit1":
        yield "mixed", ROOT / "tests" / "fixtures" / "unit1" / "mixed.ipynb", []


# the measurements that need the instructor's data wait for grading (tests/release/test_contents.py)
DEFERRED = {"unit3": {"adversarial_digits"}, "unit5": {"fine_tune"}}


@pytest.mark.parametrize("unit", UNITS)
def test_check_from_the_release_gives_the_instructor_courses_verdicts_and_hints(unit, student_venv, release, tmp_path):
    hints = 0
    for label, path, chosen in _submissions(unit, release, tmp_path):
        ours = grader_check(main_python(), ROOT, unit, path)
        theirs = grader_check(python_of(student_venv), release, unit, path)
        later = at_grading(theirs)
        expected = {name: [c for c in checks if (name, c[0]) not in later] for name, checks in verdicts(ours).items()}
        assert verdicts(theirs) == expected, (label, chosen)
        assert theirs["notes"] == ours["notes"] and theirs.get("quiz") == ours.get("quiz"), label
        assert {name for name, _ in later} == DEFERRED.get(unit, set())
        if label == "references":
            assert all(c[1] for checks in verdicts(theirs).values() for c in checks)
            assert theirs["score"] == theirs["max_score"]
        if label == "starter":
            assert not any(c[1] for checks in verdicts(theirs).values() for c in checks)
        hints += sum(1 for checks in verdicts(theirs).values() for c in checks if c[3])
    assert hints >= 5   # the catalogued mistakes are recognised, from the release's data
