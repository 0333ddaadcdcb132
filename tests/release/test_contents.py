"""What a release holds, and that it holds no answer: no reference or mistake code, no graded quiz key, no secret."""
from __future__ import annotations

import hashlib
import json
import tomllib

import pytest
from release_support import SECRET_NAME, SECRET_VALUE, UNITS, find_code, shipped_files

from grader.config import load_course
from grader.errors import UsageError
from grader.quiz.bank import load_bank
from grader.quiz.render import key_json, key_text
from grader.quiz.variants import make_variant
from grader.release.build import build_release
from grader.release.layout import digest
from grader.spec.loader import load_unit_spec

STUDENTS = [f"s{1000 + 37 * i}" for i in range(20)]


def test_a_release_holds_the_course_for_students(release, built):
    report, course = built
    files = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    expected = {"course.toml", "release.json", "README.md"}
    for unit in UNITS:
        expected |= {f"checks/{unit}/manifest.json", f"checks/{unit}/cases.npz", f"quizzes/{unit}.toml"}
        expected |= {f"exercises/{unit}/{p.name}" for p in (course.exercises_dir / unit).glob("*.ipynb")}
    (wheel,) = [f for f in files if f.startswith("wheels/")]
    assert files == expected | {wheel} and wheel.endswith("-py3-none-any.whl")
    meta = json.loads((release / "release.json").read_text())
    assert meta["format"] == "dl-grader-release" and meta["format_version"] == 1
    assert meta["course_version"] == course.version == "2026.1" and meta["units"] == UNITS
    assert meta["files"] == {f: hashlib.sha256((release / f).read_bytes()).hexdigest() for f in files - {"release.json"}}
    assert meta["digest"] == digest(meta["files"]) and meta["grader_version"] and meta["created"]
    released = load_course(release)
    assert released.release == meta and released.version == course.version and released.salt == course.salt
    for unit in UNITS:
        for path in (release / "exercises" / unit).glob("*.ipynb"):
            assert json.loads(path.read_text())["metadata"]["dl_grader"] == {"course_version": "2026.1", "unit": unit}


def test_the_course_file_keeps_the_quiz_salt_and_drops_the_grading_secrets(release, built):
    _, course = built
    assert "[grading]" in (course.root / "course.toml").read_text()
    data = tomllib.loads((release / "course.toml").read_text())
    assert set(data) == {"schema_version", "course", "tolerances", "limits", "units"}
    assert data["course"] == {"name": course.name, "salt": course.salt, "version": course.version}


def test_no_solutions_no_catalogue_no_secret_anywhere(release):
    for item in shipped_files(release):
        parts = item.name.replace("!", "/").split("/")
        assert "solutions" not in parts and parts[-1] not in ("mistakes.py", "checks.py"), item.name
        for word in (SECRET_VALUE, SECRET_NAME, ".grader-secret-test"):
            assert word not in item.text, (word, item.name)


def test_no_reference_or_mistake_code_anywhere(release):
    """No function or class body of solutions/ (exact, or with every name changed) and no mistake implementation
    in any Python source of the release (the wheel's modules, the notebooks' cells); none of their distinctive
    lines in any other file (check data, quiz banks, README) but for those the starters or the hints show."""
    kinds = {item.name.rsplit(".", 1)[-1] for item in shipped_files(release)}
    assert kinds >= {"py", "ipynb", "json", "npy", "toml", "md"}   # the wheel and the .npz are searched inside
    assert find_code(release) == ([], [])


def test_the_search_finds_planted_reference_code(tmp_path):
    """The search above does find a reference pasted with every name changed, a mistake, and a line of code in data."""
    (tmp_path / "cells.py").write_text(
        "import torch\n\ndef normalise(logits, axis=-1):\n    shifted = logits - logits.amax(dim=axis, keepdim=True)\n"
        "    e = shifted.exp()\n    return e / e.sum(dim=axis, keepdim=True)\n\n"
        "def wrong(z, dim=-1):\n    e = z.exp()\n    return e / e.sum(dim=dim, keepdim=True)\n")
    (tmp_path / "data.json").write_text(json.dumps({"note": "margins = (scores - correct + margin).clamp(min=0)"}))
    definitions_found, lines_found = find_code(tmp_path)
    assert {label for label, _ in definitions_found} >= {"solutions/unit1/shallow.py: softmax",
                                                         "solutions/unit1/mistakes.py: softmax_no_max"}
    assert [(label, file) for label, _, file in lines_found] == [("solutions/unit1/shallow.py: multiclass_hinge_loss",
                                                                  "data.json")]


def test_no_graded_quiz_key_anywhere(release, built):
    """For 20 students, no graded question's rendered key line or key entry is anywhere in the release;
    a released graded bank has no answer, and its variants have no key."""
    _, course = built
    shipped = shipped_files(release)
    searched = 0
    for unit in course.units:
        if unit.quiz is None or unit.quiz.practice:
            continue
        bank = load_bank(course.root / "quizzes" / f"{unit.id}.toml")
        released = load_bank(release / "quizzes" / f"{unit.id}.toml")
        raw = tomllib.loads((release / "quizzes" / f"{unit.id}.toml").read_text())
        assert not {"answer", "mistakes", "explain"} & {k for q in raw["questions"] for k in q}
        for student in STUDENTS:
            variant = make_variant(bank, salt=course.salt, student_id=student)
            lines = key_text(variant).splitlines()[1:]
            entries = [json.dumps({"answer": q["answer"]})[1:-1] for q in key_json(variant)["questions"]]
            for needle in lines + entries:
                searched += 1
                assert not [item.name for item in shipped if needle in item.text], needle
            mine = make_variant(released, salt=course.salt, student_id=student)
            assert [(q.prompt, [o.text for o in q.options]) for q in mine.questions] == \
                [(q.prompt, [o.text for o in q.options]) for q in variant.questions]
            assert not mine.keyed
    assert searched > 1000


def test_every_exercise_keeps_enough_public_checks(built):
    """Each exercise ships at least one public check and at least half of them; only the digits checks
    that measure on a held-out test split (unit3's adversarial training, unit5's transfer) wait for grading."""
    report, course = built
    later = {}
    for export in report.exports:
        spec = load_unit_spec(course, course.unit(export.unit))
        for name in spec.exercises:
            shipped = export.public.get(name, 0)
            waiting = len(export.at_grading.get(name, []))
            assert shipped >= max(1, (shipped + waiting) / 2), (name, shipped, waiting)
            later.update({(export.unit, name, case): 1 for case in export.at_grading.get(name, [])})
        assert export.dropped_hints == {}, export.dropped_hints   # every hint predicate is a Pattern
    assert [key[:2] for key in later] == [("unit3", "adversarial_digits"), ("unit5", "fine_tune")]


def test_a_release_is_not_built_over_other_files_or_from_a_release(tmp_path, release, built):
    _, course = built
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty and holds no release"):
        build_release(course, tmp_path / "notes", units=["unit1"], wheel=False)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"
    with pytest.raises(UsageError, match="releases are built from the instructor course"):
        build_release(load_course(release), tmp_path / "again", wheel=False)
    first = build_release(course, tmp_path / "r", units=["unit1"], wheel=False)
    with pytest.raises(UsageError, match="pass --force"):
        build_release(course, tmp_path / "r", units=["unit4"], wheel=False)
    second = build_release(course, tmp_path / "r", units=["unit4"], force=True, wheel=False)
    assert first.units == ["unit1"] and second.units == ["unit4"] and not (tmp_path / "r" / "checks" / "unit1").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no work folder left behind
