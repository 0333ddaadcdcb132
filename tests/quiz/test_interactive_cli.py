"""Terminal quiz-taking (scripted input, resume) and the quiz/login subcommands."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from quiz_support import ROOT, SALT
from grader.quiz import Bank, grade_answers, make_variant, read_answers
from grader.quiz.cli import add_subcommands, run


def scripted(lines: list[str]) -> "callable":
    feed: Iterator[str] = iter(lines)

    def input_fn(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None
    return input_fn


def test_interactive_saves_after_each_answer_and_resumes(banks: dict[str, Bank], tmp_path: Path) -> None:
    from grader.quiz import run_interactive

    v = make_variant(banks["unit5"], salt=SALT, student_id="s4001")
    qs = v.questions
    path = tmp_path / "unit5" / "answers.toml"
    first = str(qs[0].answer)
    shape = ", ".join(map(str, qs[1].answer))
    out = io.StringIO()
    left = run_interactive(v, path, input_fn=scripted([first, "[1, 2", shape, "q"]), output=out)
    assert left == len(qs) - 2
    assert "format error: unbalanced brackets" in out.getvalue()
    assert read_answers(path) == {qs[0].id: qs[0].answer, qs[1].id: qs[1].answer}

    # resume: starts at the third question; answer the rest from the key
    rest = []
    for q in qs[2:]:
        if q.kind == "multi":
            rest.append(" ".join(q.answer))
        elif q.kind == "shape":
            rest.append(str(q.answer))
        else:
            rest.append(str(q.answer))
    out = io.StringIO()
    assert run_interactive(v, path, input_fn=scripted(rest), output=out) == 0
    assert "Resuming: 2 answers already saved" in out.getvalue()
    result = grade_answers(v, read_answers(path), reveal=False)
    assert result.score == result.max_score
    assert [p.name for p in path.parent.iterdir()] == ["answers.toml"]  # no temp files left


def test_interactive_refuses_a_broken_answers_file(banks: dict[str, Bank], tmp_path: Path) -> None:
    from grader.quiz import run_interactive

    v = make_variant(banks["unit1"], salt=SALT, student_id="s4002")
    path = tmp_path / "answers.toml"
    path.write_text("oops = = 1\n", encoding="utf-8")
    out = io.StringIO()
    run_interactive(v, path, input_fn=scripted(["1"]), output=out)
    assert "not valid TOML" in out.getvalue()
    assert path.read_text(encoding="utf-8") == "oops = = 1\n"


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "quizzes", tmp_path / "quizzes")
    (tmp_path / "unit3").mkdir()
    return tmp_path


def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grader")
    add_subcommands(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_login_then_key_json(course: Path) -> None:
    out = io.StringIO()
    assert run(parse_args("login", "s123"), course, SALT, out=out) == 0
    assert (course / ".grader" / "student").read_text() == "s123\n"
    out = io.StringIO()
    assert run(parse_args("quiz", "unit3", "--key", "--json"), course, SALT, out=out) == 0
    key = json.loads(out.getvalue())
    assert key["unit"] == "unit3" and key["student"] == "s123"
    q = key["questions"][0]
    assert set(q) == {"id", "kind", "prompt", "params", "options", "answer"}
    out = io.StringIO()
    run(parse_args("quiz", "unit3", "--key", "--json", "--student", "s999"), course, SALT, out=out)
    assert json.loads(out.getvalue())["student"] == "s999"


def test_print_and_errors(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(parse_args("quiz", "unit3", "--print"), course, SALT, out=io.StringIO()) == 2
    assert "grader login" in capsys.readouterr().err
    out = io.StringIO()
    assert run(parse_args("quiz", "unit3", "--print", "--student", "s1"), course, SALT, out=out) == 0
    assert out.getvalue().startswith("# unit3: Teaching deep learners")
    assert run(parse_args("quiz", "unit33", "--print", "--student", "s1"), course, SALT) == 2
    assert "did you mean unit3?" in capsys.readouterr().err
    assert run(parse_args("login", "../../etc"), course, SALT) == 2


def test_interactive_via_cli_writes_into_the_unit_folder(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", scripted(["exp(", "0.5", "q"]))
    assert run(parse_args("quiz", "unit3", "--student", "s5"), course, SALT, out=io.StringIO()) == 0
    assert read_answers(course / "unit3" / "answers.toml") == {"l2_step": 0.5}


def test_stats_from_a_grade_report(course: Path, banks: dict[str, Bank]) -> None:
    reports = []
    for sid in ["a", "b"]:
        v = make_variant(banks["unit3"], salt=SALT, student_id=sid)
        answers = {"l2_step": v.question("l2_step").answer} if sid == "a" else {}
        reports.append({"id": sid, "quiz": grade_answers(v, answers, reveal=False).to_json()})
    path = course / "report.json"
    path.write_text(json.dumps({"students": reports}), encoding="utf-8")
    out = io.StringIO()
    assert run(parse_args("quiz", "unit3", "--stats", "--results", str(path)), course, SALT, out=out) == 0
    row = next(line for line in out.getvalue().splitlines() if line.startswith("l2_step"))
    assert row.split()[1:] == ["2", "50%", "50%"]
