"""Hostile input to the trusted process: every parse of a student's files is bounded.

Deep folders, too many files, cells or bytes, nested or quadratic TOML, huge numbers and
file names with terminal escapes each become that student's recorded result (a note, a
format error, a quiz zero), and an honest classmate in the same batch is graded right.
Then the pieces on their own: the walk, the TOML pre-checks, `printable`, the cell notes,
and the one-line exit-code-3 failures of the command line and of the notebook check().
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest

from batch_support import BATCH_SECRET, ROOT, grader, grade_json, make_course
from make_examples import reference_cells, write_notebook

import helpers
from grader.batch import content_hash
from grader.notebook import collect as collect_mod
from grader.notebook.collect import MAX_CELLS, MAX_DEPTH, collect, walk
from grader.quiz.answers_file import check_toml_bounds, parse_answers_text
from grader.quiz.model import AnswersError
from grader.report.safe import capped, cell_notes, clip, printable

REF = list(reference_cells().values())
SURROGATE = [c for c in REF if "def softmax(" not in c] + [
    "def softmax(z, dim=-1):\n    raise ValueError('undecodable \\udcff')\n", "raise KeyError('\\udcfe')\n"]
RAW_CONTROL = ("\x1b", "\x07", "\x9b", "\x00", "\u202e")
ESCAPE_NAME = "\x1b[2J\x1b]0;pwned\x07evil.py"


def expected_scores(cells: list[str]) -> dict[str, float]:
    result = helpers.check_source("unit1", "\n\n".join(cells), secret=BATCH_SECRET)
    return {name: ex.score for name, ex in result.exercises.items()}


def _nest(folder: Path, levels: int) -> Path:
    """`levels` nested folders `d/d/...` below folder; remove them with `_unnest`."""
    here = folder
    for _ in range(levels):
        here = here / "d"
        here.mkdir()
    return here


def _unnest(folder: Path) -> None:
    """Remove what `_nest` made, from the bottom up (pytest's own clean-up is recursive in 3.11)."""
    chain, here = [], folder / "d"
    while here.is_dir() and not here.is_symlink():
        chain.append(here)
        here = here / "d"
    for path in reversed(chain):
        for child in path.iterdir():
            if not child.is_dir():
                child.unlink()
        path.rmdir()


# ---------------------------------------------------------------- one batch, hostile and honest
def _answers_text(answers: dict) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in answers.items()) + "\n"


def build_class(sub: Path, key: Callable[[str], dict]) -> None:
    """One honest student and one per hostile input; each has the right answers of their own quiz variant."""

    def student(name: str, *, code: bool = True, answers: str | None = None) -> Path:
        unit = sub / name / "unit1"
        unit.mkdir(parents=True)
        if code:
            write_notebook(unit / "unit1.ipynb", REF)
        (unit / "answers.toml").write_text(_answers_text(key(name)) if answers is None else answers,
                                           encoding="utf-8")
        return unit

    student("honest")
    _nest(student("deep_folders"), 1100)
    student("toml_nested", answers="q = " + "[" * 5000 + "]" * 5000 + "\n")
    student("toml_nested_lines", answers="q = [\n" + "[\n" * 3000 + "]\n" * 3001)
    student("toml_dotted_key", answers="a" + ".a" * 60_000 + " = 1\n")
    student("toml_dotted_short", answers=_answers_text(key("toml_dotted_short")) + "a" + ".a" * 900 + " = 1\n")
    digits = key("answer_digits")
    digits[next(iter(digits))] = "9" * 1500
    student("answer_digits", answers=_answers_text(digits))
    escape = student("escape_names", code=False)
    (escape / ESCAPE_NAME).write_text("\n\n".join(REF), encoding="utf-8")
    (escape / "raises.py").write_text("raise ValueError('\\x1b[2J\\x1b[41m cleared your screen')\n")
    link_only = student("escape_link", code=False)
    (link_only / "\x1b[31mred\x07.py").symlink_to(ROOT / "solutions" / "unit1" / "shallow.py")
    many = student("many_files")
    (many / "data").mkdir()
    for i in range(collect_mod.MAX_ENTRIES + 100):
        (many / "data" / f"{i:05d}.txt").touch()
    big = student("many_bytes")
    with open(big / "weights.bin", "wb") as f:  # sparse: the size is there, the disk blocks are not
        f.truncate(collect_mod.MAX_TOTAL_BYTES + 2**20)
    write_notebook(student("many_cells", code=False) / "unit1.ipynb", REF + ["x = 1"] * (MAX_CELLS + 50))
    (student("nested_json") / "bomb.ipynb").write_text("[" * 200_000, encoding="utf-8")
    write_notebook(student("surrogates", code=False) / "unit1.ipynb", SURROGATE)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from grader.config import load_course
    from grader.gradebook import Gradebook
    from grader.quiz import key_json, load_bank, make_variant

    work = tmp_path_factory.mktemp("bounded")
    course = make_course(work / "course")
    (course / "quizzes").symlink_to(ROOT / "quizzes")
    text = (course / "course.toml").read_text().replace(
        'quiz = { points = 10, practice = true }', 'quiz = { points = 10, practice = false }', 1)
    (course / "course.toml").write_text(text)
    bank, salt = load_bank(ROOT / "quizzes" / "unit1.toml"), load_course(course).salt

    def key(student: str) -> dict:
        variant = key_json(make_variant(bank, salt=salt, student_id=student))
        return {q["id"]: q["answer"] for q in variant["questions"]}

    sub = work / "submitted"
    sub.mkdir()
    try:
        build_class(sub, key)
    except BaseException:
        _unnest(sub / "deep_folders" / "unit1")
        raise
    gradebook = work / "gradebook.db"
    proc = grader(course, "grade", "unit1", "--submissions", str(sub), "--gradebook", str(gradebook), "--workers", "2",
                  "--launcher", "local", "--json", "--feedback", str(work / "feedback"))
    try:
        with Gradebook(gradebook, readonly=True) as gb:
            stored = {g.student: g for g in gb.grades("unit1")}
        yield {"proc": proc, "json": grade_json(proc), "stored": stored, "sub": sub, "work": work, "course": course}
    finally:
        _unnest(sub / "deep_folders" / "unit1")


def _scores(batch, student: str) -> dict[str, float]:
    return {name: ex["score"] for name, ex in batch["json"]["students"][student]["exercises"].items()}


def _notes(batch, student: str) -> str:
    return "\n".join(batch["stored"][student].notes)


def _quiz_messages(batch, student: str) -> str:
    quiz = batch["stored"][student].quiz
    return "\n".join(q["message"] for q in quiz["questions"].values())


def test_every_student_is_a_recorded_result(batch):
    assert set(batch["json"]["students"]) == {p.name for p in batch["sub"].iterdir()}
    assert batch["proc"].returncode == 0
    assert "Traceback" not in batch["proc"].stderr


@pytest.mark.parametrize("student", ["honest", "deep_folders", "toml_nested", "toml_nested_lines", "toml_dotted_key",
                                     "toml_dotted_short", "answer_digits", "escape_names", "many_files", "many_bytes",
                                     "many_cells", "nested_json"])
def test_the_honest_code_gets_its_full_grade(batch, student):
    assert _scores(batch, student) == expected_scores(REF), _notes(batch, student)


def test_undecodable_text_from_the_worker_is_stored_escaped(batch):
    assert _scores(batch, "surrogates") == expected_scores(SURROGATE[:-1])  # the last cell only raises
    messages = [c.message for c in batch["stored"]["surrogates"].exercises["softmax"].checks]
    assert any("undecodable \\udcff" in m for m in messages), messages
    assert "KeyError: '\\udcfe'" in _notes(batch, "surrogates")


def test_the_honest_quiz_gets_full_marks(batch):
    quiz = batch["stored"]["honest"].quiz
    assert quiz["score"] == quiz["max_score"] == 10, _quiz_messages(batch, "honest")


@pytest.mark.parametrize("student,reason", [
    ("toml_nested", "at most 2,048 are read"),
    ("toml_nested_lines", "nested more than 8 levels deep"),
    ("toml_dotted_key", "larger than 64 KiB"),
    ("toml_dotted_short", "more than 16 dots"),
])
def test_a_hostile_answers_file_is_a_quiz_zero_with_its_reason(batch, student, reason):
    quiz = batch["stored"][student].quiz
    assert quiz["score"] == 0
    assert reason in quiz["questions"]["answers.toml"]["message"]


def test_a_huge_number_is_a_format_error_of_that_question_only(batch):
    quiz = batch["stored"]["answer_digits"].quiz
    assert "format error" in _quiz_messages(batch, "answer_digits")
    assert 0 < quiz["score"] < quiz["max_score"]


@pytest.mark.parametrize("student,note", [
    ("deep_folders", f"nested more than {MAX_DEPTH} levels deep were not read"),
    ("many_files", f"more than {collect_mod.MAX_ENTRIES:,} files and folders"),
    ("many_bytes", "1 file(s) were not read: all files together may hold at most 256 MiB (first: weights.bin"),
    ("many_cells", f"only the first {MAX_CELLS} code cells were graded; {len(REF) + 50} more were not"),
    ("nested_json", "bomb.ipynb is not a readable notebook: its JSON is nested too deeply"),
])
def test_each_cap_is_named_in_the_notes(batch, student, note):
    assert note in _notes(batch, student)


def test_escape_sequences_never_reach_the_terminal(batch):
    proc = batch["proc"]
    for char in RAW_CONTROL:
        assert char not in proc.stdout and char not in proc.stderr
    assert "escape_link: not graded: \\x1b[31mred\\x07.py is a symbolic link" in proc.stderr  # the summary names it
    notes = _notes(batch, "escape_names")
    assert "raises.py: ValueError: \\x1b[2J\\x1b[41m cleared your screen" in notes
    assert not any(c in notes for c in RAW_CONTROL)
    export = grader(batch["course"], "export", "unit1", "--format", "json", "--gradebook",
                    str(batch["work"] / "gradebook.db"))
    assert export.returncode == 0 and "\\u001b" not in export.stdout


def test_feedback_pages_still_escape(batch):
    page = (batch["work"] / "feedback" / "escape_names" / "unit1.html").read_text(encoding="utf-8")
    assert "\x1b" not in page and "raises.py" in page


# ---------------------------------------------------------------- the walk
def test_walk_is_iterative_and_stops_at_the_depth_cap(tmp_path):
    write_notebook(tmp_path / "unit1.ipynb", ["x = 1"])
    try:
        (_nest(tmp_path, 1100) / "hidden.py").write_text("y = 2")
        _deep_folders_are_a_note(tmp_path)
    finally:
        _unnest(tmp_path)


def _deep_folders_are_a_note(tmp_path: Path) -> None:
    listing = walk(tmp_path)
    assert [e.rel for e in listing.entries] == ["unit1.ipynb"]
    assert listing.limits == [f"folders nested more than {MAX_DEPTH} levels deep were not read "
                              f"(first: {'/'.join(['d'] * (MAX_DEPTH + 1))})"]
    digest, files = content_hash(tmp_path)
    assert digest.startswith("sha256:") and list(files) == ["unit1.ipynb"]
    sub = collect(tmp_path)
    assert [c.origin for c in sub.cells] == ["unit1.ipynb, cell 2"] and listing.limits[0] in sub.problems


def test_walk_order_and_hash_match_os_walk(tmp_path):
    for rel in ("b.py", "a/z.py", "a/b/c.txt", "c/x.py", ".hidden", "__pycache__/x.pyc"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    expected = []
    for root, dirs, names in os.walk(tmp_path):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        expected += [Path(root, n).relative_to(tmp_path).as_posix() for n in sorted(names)]
    assert [e.rel for e in walk(tmp_path).entries] == expected


def test_walk_never_follows_links(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "secret.py").write_text("secret = 1")
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "linked").symlink_to(outside)
    (folder / "file.py").symlink_to(outside / "deep" / "secret.py")
    listing = walk(folder)
    assert [(e.rel, e.kind) for e in listing.entries] == [("file.py", "link"), ("linked", "link")]
    sub = collect(folder)
    assert sub.cells == [] and sub.problems == ["file.py is a symbolic link; it was not followed"]


def test_walk_caps_entries_and_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(collect_mod, "MAX_ENTRIES", 30)
    monkeypatch.setattr(collect_mod, "MAX_TOTAL_BYTES", 1000)
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "big.bin").write_bytes(b"0" * 2000)
    (tmp_path / "data").mkdir()
    for i in range(50):
        (tmp_path / "data" / f"{i:02d}").write_text("1")
    listing = walk(tmp_path)
    assert len(listing.entries) == 2 + 27  # a.py and big.bin (data/ counts too), then 27 files of data/
    assert ("big.bin", "over") in [(e.rel, e.kind) for e in listing.entries]
    assert listing.limits[0] == "the submission has more than 30 files and folders; the rest were not read"
    assert listing.limits[1] == ("1 file(s) were not read: all files together may hold at most 1000 bytes "
                                 "(first: big.bin, 1 KiB)")
    assert [c.source for c in collect(tmp_path).cells] == ["x = 1\n"]


def test_odd_file_names_are_hashed_and_shown_escaped(tmp_path):
    raw = os.fsencode(tmp_path) + b"/bad\xff\x1b[2J.py"
    with open(raw, "w") as f:
        f.write("x = 1\n")
    digest, files = content_hash(tmp_path)
    assert list(files) == ["bad\\udcff\\x1b[2J.py"]
    sub = collect(tmp_path)
    assert [c.origin for c in sub.cells] == ["bad\\udcff\\x1b[2J.py"]


def test_cells_and_source_bytes_are_capped(tmp_path, monkeypatch):
    write_notebook(tmp_path / "a.ipynb", [f"x{i} = {i}" for i in range(MAX_CELLS + 5)])
    sub = collect(tmp_path)
    assert len(sub.cells) == MAX_CELLS
    assert sub.problems == [f"only the first {MAX_CELLS} code cells were graded; 5 more were not "
                            f"(first: a.ipynb, cell {MAX_CELLS + 2})"]  # cell 1 is a title
    monkeypatch.setattr(collect_mod, "MAX_SOURCE_BYTES", 100)
    (tmp_path / "a.ipynb").unlink()
    (tmp_path / "big.py").write_text("x = 1  # " + "ü" * 100 + "\n")
    (tmp_path / "small.py").write_text("y = 2\n")
    sub = collect(tmp_path)
    assert [c.origin for c in sub.cells] == ["small.py"]
    assert "1 cell(s) were not graded: the code may hold at most 100 bytes in all (first: big.py)" in sub.problems


def test_notebook_json_bombs_are_unreadable_notebooks(tmp_path):
    (tmp_path / "deep.ipynb").write_text("[" * 100_000)
    (tmp_path / "wide.ipynb").write_text("[" + "{}," * 600_000 + "{}]")
    problems = collect(tmp_path).problems
    assert problems == ["deep.ipynb is not a readable notebook: its JSON is nested too deeply; skipped",
                        "wide.ipynb is not a readable notebook: it holds more than 500,000 JSON objects and lists; "
                        "skipped"]


def test_problem_notes_are_capped(tmp_path):
    for i in range(30):
        (tmp_path / f"n{i:02d}.ipynb").write_text("not json")
    problems = collect(tmp_path).problems
    assert len(problems) == 21 and problems[-1] == "... and 10 more problems with files"


# ---------------------------------------------------------------- answers.toml
@pytest.mark.parametrize("text,message", [
    ("q = " + "[" * 9 + "]" * 9, "brackets are nested more than 8 levels deep"),
    ("q = [\n" + "{a = [\n" * 5 + "]}" * 5 + "]", "brackets are nested more than 8 levels deep"),
    ("a" + ".a" * 17 + " = 1", "more than 16 dots"),
    ('"a" . "b"' + ' . "c"' * 16 + " = 1", "more than 16 dots"),
    ("q = " + "1" * 300, "longer than 256 characters"),
    ("q = " + "a" * 3000, "a line of 3,004 characters"),
])
def test_toml_bounds_refuse_what_no_answers_file_needs(text, message):
    with pytest.raises(AnswersError, match=message):
        check_toml_bounds(text)
    with pytest.raises(AnswersError, match=message):
        parse_answers_text(text)


def test_toml_bounds_ignore_strings_and_comments():
    text = ('q1 = "[[[[[[[[[[ a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r"\n'
            "q2 = '{{{{{{{{{{{{'\n"
            '# [[[[[[[[[[[[[[[[[[[[[[[ . . . . . . . . . . . . . . . . . . . .\n'
            'q3 = """\n[[[[[[[[[[[[[[\n"""""\n'
            "q4 = '''[[[[[[[[[[[['''\n"
            'q5 = [[1, 2], [3, 4]]\n'
            '[table.sub]\nx = 1.5\n[[arr]]\ny = 2\n')
    check_toml_bounds(text)
    data = parse_answers_text(text)
    assert data["q3"] == '[[[[[[[[[[[[[[\n""' and data["table"]["sub"]["x"] == 1.5


def test_whatever_tomllib_raises_is_an_answers_error(monkeypatch):
    from grader.quiz import answers_file

    monkeypatch.setattr(answers_file, "MAX_BARE_CHARS", 10**6)
    monkeypatch.setattr(answers_file, "MAX_LINE_CHARS", 10**6)
    with pytest.raises(AnswersError, match="could not be read as TOML .ValueError"):
        parse_answers_text("q = " + "1" * 5000)


def test_answers_files_over_the_size_cap_or_links_are_not_read(tmp_path):
    from grader.quiz.grading import read_answers

    (tmp_path / "answers.toml").write_text("a" + ".a" * 60_000 + " = 1\n")
    with pytest.raises(AnswersError, match="larger than 64 KiB"):
        read_answers(tmp_path / "answers.toml")
    (tmp_path / "link.toml").symlink_to(tmp_path / "answers.toml")
    with pytest.raises(AnswersError, match="symbolic link"):
        read_answers(tmp_path / "link.toml")


def test_huge_numbers_are_format_errors():
    from grader.quiz import grade_answers, load_bank, make_variant, validate_answers
    from grader.quiz.grading import AnswerFormatError, parse_answer

    variant = make_variant(load_bank(ROOT / "quizzes" / "unit4.toml"), salt="s", student_id="ana")
    shape = next(q for q in variant.questions if q.kind == "shape")
    for value in ("5" * 5000, "[" + "5" * 5000 + ", 3]", [10**5000], "torch.Size([" + "7" * 20 + "])"):
        with pytest.raises(AnswerFormatError, match="more than 12 digits"):
            parse_answer(shape, value)
    for results in (grade_answers(variant, {shape.id: "5" * 5000}, reveal=False).questions,
                    validate_answers(variant, {shape.id: "5" * 5000, "extra": 10**5000})):
        by_id = {q.question_id: q for q in results}
        assert by_id[shape.id].status == "format_error" and len(by_id[shape.id].message) < 300
    numeric = next((q for q in variant.questions if q.kind == "numeric"), None)
    if numeric is not None:
        with pytest.raises(AnswerFormatError, match="not a finite number"):
            parse_answer(numeric, 10**400)


def test_unknown_keys_are_capped_and_escaped():
    from grader.quiz import load_bank, make_variant, validate_answers

    variant = make_variant(load_bank(ROOT / "quizzes" / "unit1.toml"), salt="s", student_id="ana")
    answers = {f"junk\x1b{i}": 1 for i in range(100)}
    unknown = [q for q in validate_answers(variant, answers) if q.status == "unknown"]
    assert len(unknown) == 21 and "80 more keys" in unknown[-1].message
    assert not any("\x1b" in q.question_id + q.message for q in unknown)


# ---------------------------------------------------------------- printable and notes
def test_printable_escapes_control_characters():
    assert printable("a\x1b[2Jb\x07\x00\x7f\x9b") == "a\\x1b[2Jb\\x07\\x00\\x7f\\x9b"
    assert printable("tab\there\nline\r") == "tab\\there\\nline\\r"
    assert printable("tab\there\nline\r", newlines=True) == "tab\there\nline\\r"
    assert printable("evil\u202egnp.py \u2066x\u2069 \u2028") == "evil\\u202egnp.py \\u2066x\\u2069 \\u2028"
    assert printable("bad\udcff") == "bad\\udcff"
    assert printable("ünïcödé 😀 OK") == "ünïcödé 😀 OK"
    assert printable(printable("\x1b")) == "\\x1b"


def test_clip_and_capped():
    assert clip("x" * 10, 20) == "x" * 10
    clipped = clip("a" * 500 + "END", 300)
    assert len(clipped) == 300 and clipped.endswith("END") and " ... " in clipped
    assert capped([str(i) for i in range(25)], 20) == [str(i) for i in range(20)] + ["... and 5 more"]


def test_cell_notes_trust_only_the_index():
    origins = ["nb.ipynb, cell 1", "nb.ipynb, cell 2"]
    reports = [SimpleNamespace(index=1, origin="FORGED \x1b[2J", error="boom\x1b[2J\n" + "x" * 1000),
               SimpleNamespace(index=1, origin="again", error="second report for one cell"),
               SimpleNamespace(index=7, origin="nowhere", error="out of range"),
               SimpleNamespace(index="0", origin="x", error="not an int"),
               SimpleNamespace(index=0, origin="x", error=None)]
    notes = cell_notes(origins, reports)
    assert len(notes) == 1 and notes[0].startswith("nb.ipynb, cell 2: boom\\x1b[2J x")
    assert len(notes[0]) <= len("nb.ipynb, cell 2: ") + 300 and "FORGED" not in notes[0]
    many = [SimpleNamespace(index=i, origin="", error="e") for i in range(30)]
    notes = cell_notes([f"c{i}" for i in range(30)], many)
    assert len(notes) == 21 and notes[-1] == "... and 10 more cells with errors"


def test_text_renderers_escape_student_text():
    from grader.report.summary import Summary, render_summary
    from grader.report.text import render_unit
    from grader.results import CheckResult, ExerciseResult, UnitResult

    result = UnitResult(unit="unit1", notes=["evil\x1b[2J.py: boom"])
    result.exercises["softmax"] = ExerciseResult("softmax", 2, [CheckResult("c", False, "raised X: \x1b]0;t\x07")])
    result.quiz = {"practice": False, "error": None, "questions": {
        "q\x1b": {"status": "format_error", "message": "format error\n    x\x1b[2J\n    ^", "score": 0, "max_score": 1}}}
    for color in (False, True):
        text = render_unit(result, color=color)
        assert "\x1b[2J" not in text and "\x07" not in text and "\x1b]" not in text
        assert "evil\\x1b[2J.py" in text
    summary = render_summary(Summary("unit1", "sandbox", 1, 0, 0, ungradable=[("ana", "x\x1b[2J.py is a link")],
                                     skipped_names=["'\\x1b'"], aborted="worker said \x1b[2J"))
    assert "\x1b" not in summary and "x\\x1b[2J.py is a link" in summary


# ---------------------------------------------------------------- one line, exit code 3
def test_an_internal_error_is_one_line_and_exit_code_3(monkeypatch, capsys):
    from grader import cli

    def broken(args):  # noqa: ANN001
        raise RuntimeError("boom \x1b[2J\nsecond line")

    monkeypatch.setattr(cli, "_dispatch", broken)
    monkeypatch.delenv("GRADER_DEBUG", raising=False)
    assert cli.main(["list"]) == 3
    err = capsys.readouterr().err
    assert err == ("grader: internal error: RuntimeError: boom \\x1b[2J second line "
                   "(set GRADER_DEBUG=1 for the traceback)\n")
    monkeypatch.setenv("GRADER_DEBUG", "1")
    assert cli.main(["list"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("(set GRADER_DEBUG=1 for the traceback)\n")


def test_a_worker_failure_in_grader_check_is_one_line_and_exit_code_3(monkeypatch, capsys):
    from grader import api, checking, cli
    from grader.runner.session import WorkerFailure

    closed = []

    class Launcher:
        def close(self) -> None:
            closed.append(True)

    def no_worker(*args, **kwargs):  # noqa: ANN002, ANN003
        raise WorkerFailure("the grading worker did not start: it was killed by signal 9")

    monkeypatch.setattr(api, "check_launcher", lambda course, device="auto": Launcher())
    monkeypatch.setattr(checking, "check_submission", no_worker)
    code = cli.main(["--course", str(ROOT), "check", "unit1", "--path",
                     str(ROOT / "solutions" / "unit1" / "shallow.py"), "--device", "cpu"])
    assert code == 3 and closed == [True]
    assert capsys.readouterr().err == ("grader: error: the grading worker did not start: it was killed by signal 9\n")


def test_a_worker_failure_in_the_notebook_check_is_one_line(monkeypatch, capsys):
    from grader import api, checking
    from grader.notebook import inline, remote
    from grader.runner.session import WorkerFailure

    class Launcher:
        def close(self) -> None:
            pass

    def no_worker(*args, **kwargs):  # noqa: ANN002, ANN003
        raise WorkerFailure("the grading worker did not start")

    monkeypatch.delenv("GRADER_WORKER", raising=False)
    monkeypatch.delenv("GRADER_DEBUG", raising=False)
    # the notebook's trusted process (here, in this one) answers with one line ...
    monkeypatch.setattr(api, "check_launcher", lambda course, device="auto": Launcher())
    monkeypatch.setattr(checking, "check_submission", no_worker)
    request = {"version": 1, "course": str(ROOT), "cwd": str(ROOT), "unit": "unit1", "exercises": ["softmax"],
               "device": "cpu", "cells": [["x = 1", "kernel input [1]"]], "path": None}
    reply = remote.answer_safely(json.dumps(request).encode())
    assert reply == {"version": 1, "error": "error: the grading worker did not start", "exit_code": 3}
    # ... which the kernel prints as it is
    monkeypatch.setattr(inline, "ask_trusted_process", lambda request: reply)
    monkeypatch.setenv("GRADER_COURSE", str(ROOT))
    assert inline.check_from_notebook(("softmax",), unit="unit1", path=None, device="cpu") is None
    assert capsys.readouterr().out == "grader: error: the grading worker did not start\n"
    monkeypatch.setattr(inline, "_check", lambda *a: 1 / 0)
    assert inline.check_from_notebook(("softmax",), unit="unit1", path=None, device="cpu") is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("grader: internal error: ZeroDivisionError")


def test_a_grade_run_that_fails_inside_is_one_line_and_exit_code_3(monkeypatch, capsys, tmp_path):
    from grader import batch, cli

    def worker_pipe_broke(*args, **kwargs):  # noqa: ANN002, ANN003
        raise BrokenPipeError(32, "Broken pipe")

    course = make_course(tmp_path / "course")
    (tmp_path / "submitted").mkdir()
    monkeypatch.setattr(batch, "grade_batch", worker_pipe_broke)
    monkeypatch.delenv("GRADER_DEBUG", raising=False)
    code = cli.main(["--course", str(course), "grade", "unit1", "--submissions", str(tmp_path / "submitted")])
    assert code == 3
    assert capsys.readouterr().err == ("grader: internal error: BrokenPipeError: [Errno 32] Broken pipe "
                                       "(set GRADER_DEBUG=1 for the traceback)\n")
