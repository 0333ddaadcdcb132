"""The quiz as a student meets it in the terminal and in `grader check` (golden text).

A small course of its own (one practice and one graded quiz on a three-question bank) keeps
the golden files independent of the course's banks.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from grader.config import load_course
from grader.gradebook.export import summary_json
from grader.gradebook.store import StoredGrade
from grader.quiz import grade_answers, load_bank, make_variant, read_answers, run_interactive
from grader.quiz.answers_file import dump_answers
from grader.quiz.check import check_quiz, check_quiz_command
from grader.quiz.grading import scaled_to_points
from grader.quiz.interactive import to_stored
from grader.quiz.variants import fill
from grader.report.text import render_unit
from grader.results import CheckResult, ExerciseResult, UnitResult

from quiz_support import ROOT, SALT, UNITS

GOLDEN = ROOT / "tests" / "golden"
STUDENT = "s042"

COURSE_TOML = """schema_version = 1
[course]
name = "Tiny"
salt = "tiny-salt"
[[units]]
id = "unit1"
title = "Practice"
exercises = [{ name = "softmax", points = 2 }]
quiz = { points = 10, practice = true }
[[units]]
id = "unit2"
title = "Graded"
exercises = [{ name = "softmax", points = 2 }]
quiz = { points = 10, practice = false }
"""

BANK = """schema_version = 1
unit = "{unit}"
title = "Three questions"

[[questions]]
id = "gd_step"
kind = "numeric"
prompt = "Minimise f(w) = {{a}}·(w − {{c}})² with one gradient step, η = {{lr}}, from w = {{w0}}. What is w?"
params = {{ a = [1], c = [-2], w0 = [1], lr = [0.1] }}
answer = "w0 - lr*2*a*(w0 - c)"

[[questions]]
id = "sigmoid"
kind = "choice"
prompt = "Which is the logistic sigmoid?"
shuffle = false
options = [{{ text = "max(0, x)" }}, {{ text = "tanh(x)" }}, {{ text = "x" }}, {{ text = "1/(1 + exp(-x))", correct = true }}]

[[questions]]
id = "softmax_facts"
kind = "multi"
prompt = "Which hold for softmax outputs?"
shuffle = false
options = [{{ text = "they can be negative" }}, {{ text = "they sum to 1", correct = true }},
           {{ text = "they are integers" }}, {{ text = "the largest logit wins" }},
           {{ text = "they are positive", correct = true }}]
"""

RIGHT = {"gd_step": 0.4, "sigmoid": "d", "softmax_facts": ["b", "e"]}


def assert_golden(name: str, text: str, request: pytest.FixtureRequest) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden") or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture()
def course(tmp_path: Path):
    (tmp_path / "course.toml").write_text(COURSE_TOML, encoding="utf-8")
    (tmp_path / "quizzes").mkdir()
    for unit in ("unit1", "unit2"):
        (tmp_path / "quizzes" / f"{unit}.toml").write_text(BANK.format(unit=unit), encoding="utf-8")
        (tmp_path / unit).mkdir()
    return load_course(tmp_path)


def variant(course, unit="unit1"):
    return make_variant(load_bank(course.root / "quizzes" / f"{unit}.toml"), salt=course.salt, student_id=STUDENT)


def scripted(lines):
    feed = iter(lines)

    def input_fn(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None
    return input_fn


def test_terminal_quiz_takes_the_plain_and_the_toml_forms(course, request):
    v = variant(course)
    out = io.StringIO()
    quoted = course.root / "unit1" / "answers.toml"
    assert run_interactive(v, quoted, input_fn=scripted(['"0.4"', '"d"', '["b", "e"]']), output=out) == 0
    assert "format error" not in out.getvalue()
    assert_golden("quiz_terminal_session.txt", out.getvalue().replace(str(course.root), "COURSE"), request)
    plain = course.root / "plain.toml"
    out = io.StringIO()
    assert run_interactive(v, plain, input_fn=scripted(["0.4", "d", "b, e"]), output=out) == 0
    assert read_answers(quoted) == read_answers(plain) == RIGHT
    assert grade_answers(v, RIGHT, reveal=False).score == 3


@pytest.mark.parametrize("typed, stored", [
    ("d", "d"), ('"d"', "d"), ("'d'", "d"), (" D ", "d"), ("(d)", "d")])
def test_choice_forms(course, typed, stored):
    assert to_stored(variant(course).question("sigmoid"), typed) == stored


@pytest.mark.parametrize("typed", ["b, e", "b e", "e,b", '["b", "e"]', "['e', 'b']", '"b, e"'])
def test_multi_forms(course, typed):
    assert to_stored(variant(course).question("softmax_facts"), typed) == ["b", "e"]


@pytest.mark.parametrize("typed", ["-", "none", "[]", '"-"'])
def test_multi_none(course, typed):
    assert to_stored(variant(course).question("softmax_facts"), typed) == []


@pytest.mark.parametrize("typed, stored", [("0.4", 0.4), ('"0.4"', 0.4), ('"2/5"', "2/5"), ("2/5", "2/5"),
                                           ("4e-1", 0.4)])
def test_numeric_forms(course, typed, stored):
    assert to_stored(variant(course).question("gd_step"), typed) == stored


def test_terminal_still_refuses_what_cannot_be_read(course):
    from grader.quiz.grading import AnswerFormatError

    q = variant(course)
    for kind, typed in [("sigmoid", "z"), ("sigmoid", '"z"'), ("softmax_facts", '["b", "q"]'), ("gd_step", "0.4.1"),
                        ("gd_step", "true")]:
        with pytest.raises(AnswerFormatError):
            to_stored(q.question(kind), typed)


def test_prompts_print_algebra_not_substitutions(course):
    assert variant(course).question("gd_step").prompt.startswith("Minimise f(w) = (w + 2)² with one")
    import sympy

    one, minus_two = sympy.Integer(1), sympy.Integer(-2)
    assert fill("{a}·(w − {c})²", {"a": one, "c": minus_two}) == "(w + 2)²"
    assert fill("{a}·(w − {c})²", {"a": -one, "c": minus_two}) == "−(w + 2)²"
    assert fill("x + {b}, x - {b}, y = -{b}, z = ({b})", {"b": minus_two}) == "x - 2, x + 2, y = 2, z = (-2)"
    assert fill("3·{a}·x + {a}", {"a": one}) == "3·x + 1"
    assert fill("x {b:+}", {"b": minus_two}) == "x − 2"


def test_no_bank_prompt_shows_a_double_sign_or_a_unit_coefficient(banks):
    import re

    bad = re.compile(r"[−+\-]\s+-\d|(?<![\d.])1[·*]")
    for unit in UNITS:
        for i in range(40):
            for q in make_variant(banks[unit], salt=SALT, student_id=f"s{i}").questions:
                for text in [q.prompt, *(o.text for o in q.options)]:
                    assert not bad.search(text), (unit, q.id, text)


def test_check_practice_quiz_marks_and_scale(course, request):
    (course.root / "unit1" / "answers.toml").write_text(dump_answers({**RIGHT, "softmax_facts": ["b"]}))
    out = io.StringIO()
    assert check_quiz_command(course, "unit1", student=STUDENT, out=out) == 1
    text = out.getvalue()
    (course.root / "unit1" / "answers.toml").write_text(dump_answers(RIGHT))
    out = io.StringIO()
    assert check_quiz_command(course, "unit1", student=STUDENT, out=out, verbose=True) == 0
    text += out.getvalue()
    assert_golden("quiz_check_practice.txt", text, request)


def test_practice_score_is_on_the_course_scale_as_in_the_batch(course):
    (course.root / "unit1" / "answers.toml").write_text(dump_answers({**RIGHT, "sigmoid": "a"}))
    section = check_quiz(course, course.unit("unit1"), None, STUDENT)
    batch = scaled_to_points(grade_answers(variant(course), read_answers(course.root / "unit1" / "answers.toml"),
                                           reveal=False).to_json(), 10)
    assert (section["score"], section["max_score"]) == (batch["score"], batch["max_score"]) == (6.6667, 10)


def test_check_graded_quiz_and_the_heading(course, request):
    (course.root / "unit2" / "answers.toml").write_text(dump_answers({"gd_step": "2x", "sigmoid": "d"}))
    out = io.StringIO()
    assert check_quiz_command(course, "unit2", student=STUDENT, out=out) == 1
    text = out.getvalue()
    # every exercise passes but the quiz is still open: the heading says so, and it is exit code 1
    passing = ExerciseResult("softmax", 2.0, [CheckResult("shape (4, 7)", True, "passed")])
    result = UnitResult("unit1", {"softmax": passing},
                        quiz=check_quiz(course, course.unit("unit1"), None, STUDENT))
    assert not result.passed
    text += render_unit(result, width=88)
    assert_golden("quiz_check_graded.txt", text, request)


def test_a_notebook_given_with_path_keeps_its_answers_in_the_unit_folder(course, tmp_path):
    (course.root / "unit1" / "answers.toml").write_text(dump_answers(RIGHT))
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / "answers.toml").write_text(dump_answers({}))        # not the student's answers
    notebook = downloads / "Copy of softmax (2).ipynb"
    notebook.write_text("{}")
    section = check_quiz(course, course.unit("unit1"), notebook, STUDENT)
    assert section["passed"] and section["score"] == 10
    # a folder given with --path is a submission folder: its own answers.toml counts
    section = check_quiz(course, course.unit("unit1"), downloads, STUDENT)
    assert not section["passed"] and section["questions"]["gd_step"]["status"] == "missing"


def test_grader_check_unit_quiz_on_the_command_line(course, capsys):
    from grader.cli import main

    (course.root / "unit2" / "answers.toml").write_text(dump_answers(RIGHT))
    assert main(["--course", str(course.root), "check", "unit2", "quiz", "--student", STUDENT]) == 0
    assert capsys.readouterr().out.startswith("unit2: quiz: all 3 answers readable\n")
    assert main(["--course", str(course.root), "check", "unit2", "quiz", "--student", STUDENT, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unit"] == "unit2" and data["quiz"]["passed"] and set(data["quiz"]["questions"]) == set(RIGHT)
    assert main(["--course", str(course.root), "check", "unit2", "quiz", "softmax"]) == 2
    assert "separate run" in capsys.readouterr().err


def test_stats_read_the_report_of_grader_grade_json(course):
    from grader.quiz.cli import add_subcommands, run
    import argparse

    unit = course.unit("unit1")
    grades = []
    for sid, answers in [("a", RIGHT), ("b", {**RIGHT, "sigmoid": "a"}), ("c", None)]:
        if answers is None:   # no answers.toml: the batch records one pseudo-question
            quiz = {"score": 0.0, "max_score": 10.0, "questions": {"answers.toml": {
                "score": 0.0, "max_score": 10.0, "message": "no answers.toml in the submission"}}}
        else:
            v = make_variant(load_bank(course.root / "quizzes" / "unit1.toml"), salt=course.salt, student_id=sid)
            quiz = scaled_to_points(grade_answers(v, answers, reveal=False).to_json(), 10)
        grades.append(StoredGrade("unit1", sid, "graded", 2.0, 2.0, None, [], "h", "s", "t", "v", {}, quiz))
    report = course.root / "report.json"
    report.write_text(json.dumps(summary_json(grades, unit)), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    args = parser.parse_args(["quiz", "unit1", "--stats", "--results", str(report)])
    assert run(args, course.root, course.salt, out=out) == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[3:-1]}
    assert rows == {"sigmoid": ["2", "50%", "50%"], "gd_step": ["2", "100%", "100%"],
                    "softmax_facts": ["2", "100%", "100%"]}
