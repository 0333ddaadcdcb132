"""The ``grader quiz`` and ``grader login`` subcommands (a thin shell over the quiz API).

The lead's ``grader/cli.py`` calls ``add_subcommands(subparsers)`` while building
its parser and ``run(args, course_root, salt)`` when ``args.quiz_command`` is set.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from typing import TYPE_CHECKING

from grader.quiz.errors import QuizError

if TYPE_CHECKING:
    from grader.quiz.model import QuizResult

STUDENT_FILE = Path(".grader") / "student"
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def add_subcommands(subparsers: Any) -> None:
    """Register ``quiz`` and ``login`` on an argparse subparsers object."""
    quiz = subparsers.add_parser(
        "quiz", help="take a unit's quiz in the terminal, print it, or show its key",
        description="Take your own variant of a unit's quiz question by question; answers are "
                    "saved to answers.toml in the unit folder after each question.")
    quiz.add_argument("unit", help="unit id, e.g. unit3")
    quiz.add_argument("--print", dest="print_markdown", action="store_true",
                      help="print the quiz as Markdown instead of asking the questions")
    quiz.add_argument("--student", metavar="ID", help="student id (default: the one from `grader login`)")
    quiz.add_argument("--key", action="store_true", help="instructors: show the answer key")
    quiz.add_argument("--json", action="store_true", help="with --key: print the key as JSON")
    quiz.add_argument("--stats", action="store_true", help="instructors: per-question difficulty")
    quiz.add_argument("--results", metavar="FILE", type=Path,
                      help="with --stats: a JSON report from `grader grade --json`")
    quiz.add_argument("--answers", metavar="FILE", type=Path,
                      help="answers file (default: <unit folder>/answers.toml)")
    quiz.set_defaults(quiz_command="quiz")
    login = subparsers.add_parser(
        "login", help="remember your student id for this course",
        description=f"Store your student id in <course root>/{STUDENT_FILE}; quizzes use it to "
                    "give you your own variant. `--student ID` overrides it.")
    login.add_argument("student_id", metavar="ID")
    login.set_defaults(quiz_command="login")


def bank_path(course_root: Path, unit: str) -> Path:
    """Path of a unit's bank; a ``QuizError`` with a suggestion when there is none."""
    path = course_root / "quizzes" / f"{unit}.toml"
    if path.is_file():
        return path
    known = sorted(p.stem for p in (course_root / "quizzes").glob("*.toml"))
    close = difflib.get_close_matches(unit, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"quizzes: {', '.join(known) or 'none'}"
    raise QuizError(f"no quiz for {unit!r} (looked for {path})", hint)


def answers_path(course_root: Path, unit: str) -> Path:
    """Where a student's answers live: ``<unit>/answers.toml``, else ``exercises/<unit>/``."""
    for folder in (course_root / unit, course_root / "exercises" / unit):
        if folder.is_dir():
            return folder / "answers.toml"
    return course_root / unit / "answers.toml"


def read_student(course_root: Path) -> str | None:
    """The student id saved by ``grader login``, if any."""
    path = course_root / STUDENT_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def login(course_root: Path, student_id: str) -> Path:
    """Save ``student_id`` for this course; return the file written."""
    if not _STUDENT_ID.match(student_id):
        raise QuizError(f"{student_id!r} is not a valid student id",
                        "use letters, digits, '.', '_', '@' or '-' (at most 64 characters)")
    path = course_root / STUDENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(student_id + "\n", encoding="utf-8")
    return path


def resolve_student(args: argparse.Namespace, course_root: Path) -> str:
    """``--student`` if given, else the saved login, else a ``QuizError`` with a hint."""
    sid = getattr(args, "student", None) or read_student(course_root)
    if not sid:
        raise QuizError("no student id", "run `grader login YOUR_ID` once, or pass --student ID")
    if not _STUDENT_ID.match(sid):
        raise QuizError(f"{sid!r} is not a valid student id")
    return sid


def results_from_json(data: Any) -> list[QuizResult]:
    """Quiz results from a ``grader grade --json`` report (``{"unit", "students": {id: {..., "quiz"}}}``,
    also ``grader export --format json``), a list of ``{"id", "quiz"}``, or a ``{student: quiz}`` map.

    A student without an answers file (the gradebook's single "answers.toml" entry) is left out:
    they attempted no question.
    """
    from grader.quiz.model import QuizResult

    if isinstance(data, dict) and "students" in data:
        data = data["students"]
    if isinstance(data, dict):
        data = [{"id": k, **(v if isinstance(v, dict) and "quiz" in v else {"quiz": v})}
                for k, v in data.items()]
    if not isinstance(data, list):
        raise QuizError("unrecognised results file", "pass the JSON report of `grader grade --json`")
    out: list[QuizResult] = []
    for entry in data:
        if not isinstance(entry, dict):
            continue
        quiz = entry.get("quiz", entry)
        if not isinstance(quiz, dict) or not isinstance(quiz.get("questions"), dict):
            continue
        if "answers.toml" in quiz["questions"]:
            continue
        out.append(QuizResult.from_json(quiz, student=str(entry.get("id", entry.get("student", "")))))
    return out


def run(args: argparse.Namespace, course_root: Path, salt: str, *,
        results: list[QuizResult] | None = None, out: TextIO | None = None, release: bool = False) -> int:
    """Execute ``grader quiz`` or ``grader login``; return the exit code.

    ``release``: the course is a student release, where ``--key`` and ``--stats`` are refused.
    """
    out = out or sys.stdout
    try:
        return _run(args, Path(course_root), salt, results, out, release)
    except QuizError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return exc.exit_code


def instructor_only(args: argparse.Namespace) -> QuizError:
    """The error for ``--key`` or ``--stats`` in a student release (exit code 2)."""
    flag = "--key" if args.key else "--stats"
    return QuizError(f"`grader quiz {args.unit} {flag}` works only in the instructor's course; "
                     "this is a student release, which holds no answer keys or grades",
                     f"`grader quiz {args.unit}` takes the quiz, `--print` shows it")


def _run(args: argparse.Namespace, course_root: Path, salt: str,
         results: list[QuizResult] | None, out: TextIO, release: bool = False) -> int:
    from grader.quiz.bank import load_bank
    from grader.quiz.interactive import run_interactive
    from grader.quiz.render import difficulty_table, key_json, key_text, render_markdown
    from grader.quiz.variants import make_variant

    if getattr(args, "quiz_command", None) == "login":
        path = login(course_root, args.student_id)
        out.write(f"Logged in as {args.student_id} for this course (saved in {path}).\n")
        return 0
    if release and (args.key or args.stats):
        raise instructor_only(args)
    bank = load_bank(bank_path(course_root, args.unit))
    if bank.released and (args.key or args.stats):
        raise instructor_only(args)
    if args.stats:
        if results is None:
            if args.results is None:
                raise QuizError("no graded results to summarise",
                                "pass --results FILE (the JSON report of `grader grade --json`)")
            try:
                data = json.loads(args.results.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise QuizError(f"cannot read {args.results}: {exc}") from None
            results = results_from_json(data)
        out.write(f"{bank.unit}: {bank.title}\n{difficulty_table(results)}\n")
        return 0
    variant = make_variant(bank, salt=salt, student_id=resolve_student(args, course_root))
    if args.key:
        out.write(json.dumps(key_json(variant), indent=2, ensure_ascii=False) + "\n"
                  if args.json else key_text(variant) + "\n")
        return 0
    if args.print_markdown:
        out.write(render_markdown(variant))
        return 0
    target = args.answers or answers_path(course_root, args.unit)
    run_interactive(variant, target, input_fn=lambda prompt: input(prompt), output=out)
    return 0
