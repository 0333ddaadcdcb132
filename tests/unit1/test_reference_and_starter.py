"""Every Unit 1 check passes on the references and fails on the untouched starter."""
from helpers import COURSE, ROOT, check_path


def test_references_pass_every_check():
    result = check_path("unit1", ROOT / "solutions" / "unit1" / "shallow.py")
    failed = [(e.name, c.name, c.message) for e in result.exercises.values() for c in e.checks if not c.passed]
    assert failed == []
    assert result.score == result.max_score == sum(e.points for e in COURSE.unit("unit1").exercises)


def test_starter_notebook_fails_every_exercise():
    result = check_path("unit1", ROOT / "exercises" / "unit1")
    assert set(result.exercises) == {e.name for e in COURSE.unit("unit1").exercises}
    for exercise in result.exercises.values():
        assert exercise.score == 0, exercise.name
        assert not any(c.passed for c in exercise.checks), exercise.name
