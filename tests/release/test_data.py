"""The check data format: hint patterns as data, trees round trip, and corrupt or edited data is a clear error."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import COURSE, ROOT

from grader.checking import plan_unit
from grader.compare import patterns
from grader.config import load_course
from grader.release.build import build_release
from grader.release.casefile import CaseFileError, TreeReader, TreeWriter
from grader.release.load import load_release_plan
from grader.runner.wire import Array


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A release of unit 1 only, without a wheel."""
    return build_release(COURSE, tmp_path_factory.mktemp("small") / "release", units=["unit1"], wheel=False).out


def _copy(small, tmp_path):
    target = tmp_path / "release"
    shutil.copytree(small, target)
    return target


def _check(release, *args):
    return subprocess.run([sys.executable, "-m", "grader", "check", "unit1", *args, "--device", "cpu"], cwd=release,
                          capture_output=True, text=True, timeout=300)


def _rehash(release, name):
    """Make release.json agree with an edited file, as a careful forger would."""
    meta = json.loads((release / "release.json").read_text())
    meta["files"][name] = hashlib.sha256((release / name).read_bytes()).hexdigest()
    (release / "release.json").write_text(json.dumps(meta))


def test_patterns_are_data_that_rebuild_the_same_predicate():
    made = [patterns.overflow((1,)), patterns.overflow(min_input=80.0), patterns.nonfinite_only((0, "w")),
            patterns.flag_off("each example gets its own mask"), patterns.missed("gain", unless=("clean", "sanity")),
            patterns.overflow_along_dim(min_input=80.0)]
    for pattern in made:
        again = patterns.Pattern.from_json(json.loads(json.dumps(pattern.to_json())))
        assert again == pattern and again.args == pattern.args
    inf = (Array(np.array(1.0), "float64"), Array(np.array([np.inf, 0.5]), "float64"))
    fine = (Array(np.array(1.0), "float64"), Array(np.array([0.5, 0.5]), "float64"))
    assert made[0](inf, fine, {}) and not made[0](fine, fine, {})
    assert made[4]({"gain": "0.1", "clean": "ok", "sanity": "ok"}, {"gain": "ok", "clean": "ok", "sanity": "ok"}, {})
    assert not made[4]({"gain": "0.1", "clean": "0.5", "sanity": "ok"}, {"gain": "ok", "clean": "ok", "sanity": "ok"}, {})
    for bad in ({"kind": "eval", "args": {}}, {"kind": "overflow", "args": {"at": "x"}}, {"kind": "flag_off", "args": {}},
                {"kind": "missed", "args": {"key": 1}}, [], {"kind": "overflow"}):
        with pytest.raises(ValueError):
            patterns.Pattern.from_json(bad)


def test_trees_round_trip_exactly_and_arrays_are_stored_once():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    tree = {"loss": (Array(np.array(2.5, dtype=np.float32), "float32"), [Array(x, "float32"), Array(x.copy(), "float32")]),
            "n": 3, "f": float("-inf"), "s": "é", "none": None, "flag": True, "half": Array(x, "bfloat16")}
    writer = TreeWriter()
    data = json.loads(json.dumps(writer.encode(tree)))
    assert len(writer.arrays) == 2
    again = TreeReader(writer.arrays).decode(data)
    assert again["loss"][0].shape == () and again["loss"][1][1].data.tolist() == x.tolist()
    assert isinstance(again["loss"], tuple) and again["f"] == float("-inf") and again["half"].dtype == "bfloat16"
    assert again["n"] == 3 and again["s"] == "é" and again["none"] is None and again["flag"] is True
    assert TreeReader(writer.arrays).decode(data, device="cuda")["loss"][0].device == "cuda"
    for bad in ({"$a": "nope", "dtype": "float32", "device": "cpu"}, {"$f": "1e999"}, {"$code": "x"}, {"$tuple": 3}):
        with pytest.raises(CaseFileError, match="malformed"):
            TreeReader(writer.arrays).decode(bad)


def test_a_release_plan_is_the_instructor_plan(small):
    """The same cases, inputs, seeds, expected outputs and mistake outputs, from data alone (no spec)."""
    course = COURSE
    ours = plan_unit(course, course.unit("unit1"), device="cpu")
    theirs = load_release_plan(load_course(small), course.unit("unit1"), device="cpu")
    assert theirs.spec is None and list(theirs.cases) == list(ours.cases) and not any(theirs.at_grading.values())
    writer = TreeWriter()
    for name, cases in ours.cases.items():
        assert [(p.case.name, p.seed, p.case.weight) for p in cases] == \
            [(p.case.name, p.seed, p.case.weight) for p in theirs.cases[name]]
        for mine, shipped in zip(cases, theirs.cases[name]):
            assert writer.encode(shipped.expected) == writer.encode(mine.expected)
            assert writer.encode(shipped.inputs) == writer.encode(mine.inputs)
        exercise = theirs.cases[name][0].exercise
        assert [m.hint for m in exercise.mistakes] == [m.hint for m in ours.spec.exercises[name].mistakes]


@pytest.mark.parametrize("damage", ["edited npz", "bad checksum", "missing manifest", "forged manifest", "pickled array"])
def test_corrupt_check_data_is_a_one_line_error_with_exit_code_2(small, tmp_path, damage):
    release = _copy(small, tmp_path)
    data, manifest = release / "checks/unit1/cases.npz", release / "checks/unit1/manifest.json"
    if damage == "edited npz":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
        message = "cases.npz does not match its checksum in release.json"
    elif damage == "bad checksum":
        meta = json.loads((release / "release.json").read_text())
        meta["files"]["checks/unit1/manifest.json"] = "0" * 64
        (release / "release.json").write_text(json.dumps(meta))
        message = "manifest.json does not match its checksum in release.json"
    elif damage == "missing manifest":
        manifest.unlink()
        message = "manifest.json is missing"
    elif damage == "forged manifest":   # edited, with every checksum made to agree
        text = json.loads(manifest.read_text())
        text["exercises"][0]["cases"][0]["expected"] = {"$code": "__import__('os')"}
        manifest.write_text(json.dumps(text))
        _rehash(release, "checks/unit1/manifest.json")
        message = "manifest.json is malformed (an unknown tag)"
    else:
        buffer = io.BytesIO()
        np.savez(buffer, evil=np.array([{"a": 1}], dtype=object))
        data.write_bytes(buffer.getvalue())
        text = json.loads(manifest.read_text())
        text["data_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        manifest.write_text(json.dumps(text))
        _rehash(release, "checks/unit1/cases.npz")
        _rehash(release, "checks/unit1/manifest.json")
        message = "cases.npz cannot be read"
    proc = _check(release)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grader: error: ") and message in lines[0], proc.stderr
    assert proc.stdout == ""


def test_grading_and_releasing_need_the_instructor_course(small):
    for command in (["grade", "unit1", "--submissions", "x"], ["release", "again"], ["export", "unit1"],
                    ["similarity", "unit1", "--submissions", "x"]):
        proc = subprocess.run([sys.executable, "-m", "grader", *command], cwd=small, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2 and "needs the instructor course" in proc.stderr, proc.stderr
    assert "grading needs the instructor course" in subprocess.run(
        [sys.executable, "-m", "grader", "grade", "unit1", "--submissions", "x"], cwd=small, capture_output=True,
        text=True, timeout=120).stderr


def test_a_notebook_made_for_another_course_version_is_noted(tmp_path):
    """`grader check` and `grader grade` note a notebook whose metadata names another course version."""
    from grader.release.build import stamp_notebook

    source = ROOT / "exercises" / "unit1" / "shallow_networks.ipynb"
    (tmp_path / "old.ipynb").write_text(stamp_notebook(source.read_text(), "2025.2", "unit1"))
    (tmp_path / "new.ipynb").write_text(stamp_notebook(source.read_text(), COURSE.version, "unit1"))
    from grader.api import check_unit

    result = check_unit("unit1", path=tmp_path, course=COURSE, exercises=["softmax"], device="cpu")
    assert [n for n in result.notes if "course version" in n] == [
        "old.ipynb was made for course version 2025.2, not 2026.1: compare it with this version's notebook "
        "if a check seems wrong"]


def test_a_check_made_at_grading_reads_as_neither_pass_nor_fail():
    """Text, HTML and JSON (version 2) of an exercise with a check the release cannot run."""
    from grader.report.html import render_html
    from grader.report.text import render_unit
    from grader.results import CheckResult, ExerciseResult, UnitResult

    exercise = ExerciseResult("adversarial_digits", 3.0, [
        CheckResult("the same on 1,100 training images", True, "passed"),
        CheckResult("held-out test split", False, "checked at grading: it measures your result on data that stays "
                    "with the instructor", at_grading=True)])
    result = UnitResult("unit3", {"adversarial_digits": exercise})
    assert exercise.score == 3.0 and exercise.passed and result.passed
    assert render_unit(result, width=80) == (
        "unit3: 3 / 3 points  (device: cpu)\n"
        "PASS adversarial_digits  3/3  (1/1 checks; 1 more checked at grading)\n"
        "   -  held-out test split: checked at grading: it measures your result on data\n"
        "        that stays with the instructor\n")
    shown = render_html(result)
    assert "<b style='color:#6e7781'>at grading</b>" in shown and "held-out test split" in shown
    data = result.to_json()
    assert data["version"] == 2 and data["score"] == 3.0
    assert data["exercises"]["adversarial_digits"]["checks"][1] == {
        "name": "held-out test split", "passed": None, "status": "at_grading",
        "message": "checked at grading: it measures your result on data that stays with the instructor"}
    again = UnitResult.from_json(result.to_json(weights=True))
    assert again.exercises["adversarial_digits"].checks[1].at_grading and again.score == 3.0


def test_the_release_lists_the_courses_extra_packages(tmp_path):
    """A course's [environment] packages reach the release's course.toml, where `grader check` reads them."""
    import tomllib

    from grader.config import load_course
    from grader.environment import course_packages
    from grader.release.build import course_toml

    shutil.copy(ROOT / "course.toml", tmp_path / "course.toml")
    text = (tmp_path / "course.toml").read_text()
    (tmp_path / "course.toml").write_text(text.replace("packages = []", 'packages = ["seaborn>=0.13", "einops"]'))
    course = load_course(tmp_path)
    released = course_toml(course, list(course.units))
    assert tomllib.loads(released)["environment"] == {"packages": ["seaborn>=0.13", "einops"]}
    (tmp_path / "course.toml").write_text(released)
    assert course_packages(tmp_path) == ["seaborn>=0.13", "einops"]
    (tmp_path / "course.toml").write_text(text)
    assert "environment" not in tomllib.loads(course_toml(load_course(tmp_path), list(load_course(tmp_path).units)))
