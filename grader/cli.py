"""The `grader` command: a thin layer over grader.api."""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from .errors import GraderError, UsageError
from .quiz.errors import QuizError
from .report.safe import one_line, printable


INSTRUCTOR_ONLY = {"grade", "export", "release", "report", "similarity", "export-gradescope",
                   "export-nbgrader"}   # commands a student release refuses (exit 2)


class Parser(argparse.ArgumentParser):
    """argparse with the grader's one error prefix: `grader: error: ...`, the usage line as a hint, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"grader: error: {message}\n  hint: usage: {' '.join(self.format_usage().split())[7:]}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="grader", description="Check and grade deep-learning exercises and quizzes.")
    parser.add_argument("--course", type=Path, help="folder holding course.toml (default: found from the current folder)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="show units, exercises and points")
    p.add_argument("unit", nargs="?", help="show only this unit")

    p = sub.add_parser("check", help="check your work for a unit")
    p.add_argument("unit", nargs="?", help="the unit to check, e.g. unit1 (see `grader list`)")
    p.add_argument("exercises", nargs="*", help="only these exercises (default: all of the unit)")
    p.add_argument("--path", type=Path, help="a notebook, .py file or folder to check instead of exercises/<unit>/")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("-v", "--verbose", action="store_true", help="also list the checks that passed")
    p.add_argument("--student", metavar="ID", help="whose quiz variant to check answers.toml against")

    _add_optional(sub)
    return parser


def _add_optional(sub: argparse._SubParsersAction) -> None:
    """Subcommands from parts that may be absent in a trimmed install."""
    for module in ("grader.batch_cli", "grader.quiz.cli", "grader.release.cli", "grader.insight.cli",
                   "grader.similarity.cli", "grader.gradescope.cli", "grader.interop.cli"):
        try:
            mod = __import__(module, fromlist=["add_subcommands"])
        except ImportError:
            continue
        mod.add_subcommands(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(args)
    except GraderError as exc:
        print(f"grader: error: {printable(exc, newlines=True)}", file=sys.stderr)
        return exc.exit_code
    except QuizError as exc:
        print(f"grader: error: {printable(exc, newlines=True)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001  (a grader bug or a broken pipe: one line and exit 3, never a traceback)
        return internal_error(exc)


def internal_error(exc: BaseException) -> int:
    """Say in one line that the grader failed (the traceback only with GRADER_DEBUG=1); exit code 3."""
    if os.environ.get("GRADER_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    print(f"grader: internal error: {type(exc).__name__}: {one_line(exc, 500)} "
          "(set GRADER_DEBUG=1 for the traceback)", file=sys.stderr, flush=True)
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001  (whoever read our output has gone: say nothing more at exit)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
    return 3


def _dispatch(args: argparse.Namespace) -> int:
    from .config import load_course

    course = load_course(args.course)
    if args.command == "list":
        return _list(course, args.unit)
    if args.command == "check":
        return _check(course, args)
    if getattr(args, "quiz_command", None):
        from .quiz.cli import run as run_quiz

        release = getattr(course, "release", None) is not None   # a student release: no --key, no --stats
        return run_quiz(args, course.root, course.salt, release=release,
                        results=None if release else _graded_quizzes(course, args))
    handler = getattr(args, "handler", None)
    if handler is None:
        raise GraderError(f"unknown command {args.command}")
    if course.release is not None and args.command in INSTRUCTOR_ONLY:
        what = "grading" if args.command == "grade" else f"`grader {args.command}`"
        raise UsageError(f"{what} needs the instructor course; this folder is a student release",
                         "`grader check` runs the public checks here")
    return handler(args, course)


def _list(course, unit_id: str | None) -> int:  # noqa: ANN001
    units = [course.unit(unit_id)] if unit_id else course.units
    for unit in units:
        total = sum(e.points for e in unit.exercises)
        print(f"{unit.id}  {unit.title}  ({total:g} points)")
        for ex in unit.exercises:
            print(f"  {ex.name:<28} {ex.points:g}")
        if unit.quiz:
            mode = "practice" if unit.quiz.practice else "graded"
            print(f"  {'quiz (' + mode + ')':<28} {unit.quiz.points:g}")
    return 0


def _check(course, args: argparse.Namespace) -> int:  # noqa: ANN001
    from .api import check_unit
    from .report.text import render_unit

    if args.unit is None:
        units = ", ".join(u.id for u in course.units)
        raise UsageError("say which unit to check, e.g. `grader check unit1`", f"the units are {units}")
    course.unit(args.unit)
    if args.path is not None:
        check_path(args.path)
    if "quiz" in (args.exercises or []):   # `grader check unit2 quiz`: only the answers
        from .quiz.check import check_quiz_command

        return check_quiz_command(course, args.unit, exercises=args.exercises, path=args.path, student=args.student,
                                  as_json=args.json, verbose=args.verbose)
    result = check_unit(args.unit, path=args.path, course=course, exercises=args.exercises or None,
                        device=args.device, student=args.student)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(render_unit(result, color=sys.stdout.isatty(), verbose=args.verbose))
    return 0 if result.passed else 1


def check_path(path: Path) -> None:
    """A usage error (exit 2) for a --path that cannot hold work: another kind of file, an unreadable notebook."""
    from .notebook.collect import CODE_SUFFIXES, MAX_FILE_BYTES, read_bounded, read_notebook

    shown = printable(path)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{shown} does not exist", "give a notebook, a .py file or a folder with --path")
    if path.is_dir() or path.is_symlink():
        return   # a link is never followed: the check's notes say so
    if path.suffix not in CODE_SUFFIXES:
        raise UsageError(f"{shown} is not a notebook (.ipynb) or a .py file",
                         "give a notebook, a .py file or a folder with --path")
    if path.suffix != ".ipynb":
        return
    try:
        text = read_bounded(path, MAX_FILE_BYTES).decode("utf-8-sig")
        if not text.strip():
            raise ValueError("the file is empty")
        if not read_notebook(text)[0]:
            raise ValueError("it has no code cells")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{shown} is not a readable notebook: {why}",
                         "save it again from Jupyter, or give the folder that holds it") from None


def _graded_quizzes(course, args: argparse.Namespace):  # noqa: ANN001, ANN202
    """Quiz results from the gradebook, for `grader quiz UNIT --stats` (None: let the quiz command say so)."""
    path = course.root / "gradebook.db"
    if not getattr(args, "stats", False) or getattr(args, "results", None) or not path.is_file():
        return None
    from .gradebook import Gradebook
    from .quiz.model import QuizResult

    with Gradebook(path, readonly=True) as gradebook:
        grades = gradebook.grades(args.unit)
    attempted = [g for g in grades if g.quiz and "answers.toml" not in g.quiz.get("questions", {})]
    return [QuizResult.from_json(g.quiz, unit=args.unit, student=g.student) for g in attempted] or None


if __name__ == "__main__":
    sys.exit(main())
