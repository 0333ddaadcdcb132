"""The command line as students and instructors use it, with golden terminal output."""
import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT

GOLDEN = ROOT / "tests" / "golden"
FIXTURES = ROOT / "tests" / "fixtures"


def grader(*args, cwd=ROOT):
    env = {**os.environ, "COLUMNS": "88"}
    env.pop("GRADER_COURSE", None)
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_golden(name, text, request):
    path = GOLDEN / name
    if request.config.getoption("--update-golden") or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_check_output_is_golden(request):
    run = grader("check", "unit1", "--path", str(FIXTURES / "unit1" / "mixed.ipynb"), "--device", "cpu",
                 "--student", "s001")
    assert run.returncode == 1, run.stderr
    assert_golden("check_unit1_mixed.txt", run.stdout, request)


def test_check_json(request):
    run = grader("check", "unit1", "softmax", "--path", str(FIXTURES / "unit1" / "mixed.ipynb"), "--json",
                 "--device", "cpu")
    data = json.loads(run.stdout)
    assert run.returncode == 1
    assert set(data) >= {"unit", "score", "max_score", "exercises"}
    assert list(data["exercises"]) == ["softmax"]
    softmax = data["exercises"]["softmax"]
    assert softmax["max_score"] == 2 and 0 < softmax["score"] < 2
    assert all(set(c) >= {"name", "passed", "message"} for c in softmax["checks"])


def test_exit_code_zero_when_everything_passes():
    run = grader("check", "unit1", "softmax", "--path", str(ROOT / "solutions" / "unit1" / "shallow.py"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS softmax  2/2  (8/8 checks)" in run.stdout


@pytest.mark.parametrize("args,message", [
    (["check", "unti1"], "grader: error: no unit 'unti1'; did you mean unit1?\n  hint: try `grader list`"),
    (["check", "unit1", "sofmax"], "no exercise in unit1 'sofmax'; did you mean softmax?"),
    (["check", "unit1", "--path", "/nonexistent/x.ipynb"], "/nonexistent/x.ipynb does not exist"),
    (["list", "unit9"], "no unit 'unit9'\n  hint: try `grader list`"),   # another number, not a misspelling
    (["check"], "grader: error: say which unit to check, e.g. `grader check unit1`\n  hint: the units are unit1,"),
    (["check", "unit1", "--path", "README.md"], "grader: error: README.md is not a notebook (.ipynb) or a .py file"),
    (["check", "unit1", "--bogus"], "grader: error: unrecognized arguments: --bogus\n  hint: usage: grader "),
    (["nope"], "grader: error: argument COMMAND: invalid choice: 'nope'"),
])
def test_usage_errors_exit_2_with_a_hint(args, message):
    run = grader(*args)
    assert run.returncode == 2
    assert message in run.stderr


def test_every_usage_error_has_the_one_prefix():
    for args in (["check"], ["check", "unit1", "--device", "tpu"], ["grade", "unit1"], ["check", "unit9"]):
        run = grader(*args)
        assert run.returncode == 2 and run.stderr.startswith("grader: error: "), (args, run.stderr)
        assert "did you mean" not in run.stderr


@pytest.mark.parametrize("text", ["", "  \n", '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'])
def test_an_empty_notebook_is_a_usage_error(tmp_path, text):
    notebook = tmp_path / "empty.ipynb"
    notebook.write_text(text)
    run = grader("check", "unit1", "--path", str(notebook))
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.startswith(f"grader: error: {notebook} is not a readable notebook: ")
    assert run.stdout == ""


def test_not_defined_points_to_the_file_that_failed_to_run(request):
    run = grader("check", "unit1", "softmax", "delta_rule_update", "--path", str(FIXTURES / "unit1" / "broken_py"),
                 "--device", "cpu")
    assert run.returncode == 1, run.stderr
    assert_golden("check_unit1_broken_py.txt", run.stdout, request)


def test_list_shows_units_exercises_and_points(request):
    run = grader("list")
    assert run.returncode == 0
    assert_golden("list.txt", run.stdout, request)


def test_missing_course_is_a_configuration_error(tmp_path):
    run = grader("list", cwd=tmp_path)
    assert run.returncode == 2 and "no course.toml" in run.stderr


def test_bad_schema_version(tmp_path):
    (tmp_path / "course.toml").write_text("schema_version = 99\n[course]\nname='x'\n[[units]]\nid='u'\n")
    run = grader("list", cwd=tmp_path)
    assert run.returncode == 2 and "schema_version is 99" in run.stderr


def test_notebook_check_outside_ipython_prints_text(tmp_path):
    folder = tmp_path / "unit1"
    folder.mkdir()
    (folder / "work.py").write_text((ROOT / "solutions" / "unit1" / "shallow.py").read_text())
    code = "from grader import check; r = check('softmax'); print('returned', r)"
    env = {**os.environ, "GRADER_COURSE": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=300)
    assert "PASS softmax  2/2  (8/8 checks)" in run.stdout
    assert "returned None" in run.stdout


def test_notebook_check_reports_html_for_jupyter():
    from grader.notebook.inline import CheckReport
    from helpers import check_source

    report = CheckReport(check_source("unit1", "import torch\ndef softmax(z, dim=-1):\n    return z", ["softmax"]))
    html = report._repr_html_()
    assert "<table>" in html and "softmax" in html and "fail" in html
    assert "FAIL softmax" in repr(report)


def test_check_grades_a_practice_quiz(tmp_path):
    folder = tmp_path / "unit1"
    folder.mkdir()
    (folder / "work.py").write_text((ROOT / "solutions" / "unit1" / "shallow.py").read_text())
    (folder / "work_autoencoder.py").write_text((ROOT / "solutions" / "unit1" / "autoencoder.py").read_text())
    key = json.loads(grader("quiz", "unit1", "--student", "s042", "--key", "--json").stdout)
    from grader.quiz.answers_file import dump_answers

    answers = {q["id"]: q["answer"] for q in key["questions"]}
    (folder / "answers.toml").write_text(dump_answers(answers))
    run = grader("check", "unit1", "--path", str(folder), "--student", "s042", "--json")
    data = json.loads(run.stdout)
    assert run.returncode == 0, run.stdout
    assert data["quiz"]["practice"] and data["quiz"]["score"] == data["quiz"]["max_score"] > 0
    first = key["questions"][0]["id"]
    answers[first] = "not an answer (("
    (folder / "answers.toml").write_text(dump_answers(answers))
    run = grader("check", "unit1", "--path", str(folder), "--student", "s042")
    assert run.returncode == 1
    assert f"x  {first}" in run.stdout
