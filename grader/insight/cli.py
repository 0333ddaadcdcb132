"""`grader report`: the class report of a unit, from the gradebook, as HTML or JSON (instructors)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..atomic import write_text
from ..config import Course
from ..errors import UsageError
from ..report.safe import printable


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register `report` (called by grader.cli)."""
    p = sub.add_parser("report", help="a class report of a unit: plots, mistakes, quiz item analysis (instructors)")
    p.add_argument("unit")
    p.add_argument("--gradebook", type=Path, metavar="FILE", help="SQLite gradebook (default: gradebook.db beside "
                   "course.toml)")
    p.add_argument("--out", type=Path, metavar="FILE", help="where to write (default: <unit>-report.html here; "
                   "for --format json, standard output)")
    p.add_argument("--format", choices=["html", "json"], default="html")
    p.add_argument("--submissions", type=Path, metavar="DIR", help="the graded submissions (DIR/<student>/<unit>/): "
                   "the mistakes' examples then show the student's code")
    p.add_argument("--similarity", type=Path, metavar="DIR", help="output of `grader similarity --out DIR` "
                   "(default: similarity-<unit>/ beside the report, when it has a pairs.json)")
    p.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace, course: Course) -> int:
    """Write the report; 0 when written."""
    from ..gradebook import Gradebook
    from .build import build_report, load_bank, load_similarity
    from .sources import Sources

    unit = course.unit(args.unit)
    path = (args.gradebook or course.root / "gradebook.db").absolute()
    if not path.is_file():
        raise UsageError(f"no gradebook at {printable(path)}", "grade first with `grader grade`, or pass --gradebook")
    if args.submissions is not None and not args.submissions.is_dir():
        raise UsageError(f"--submissions {printable(args.submissions)} is not a folder")
    out = args.out or (Path(f"{unit.id}-report.html") if args.format == "html" else None)
    report_dir = (out.parent if out else Path.cwd()).absolute()
    folder = args.similarity or report_dir / f"similarity-{unit.id}"
    if args.similarity is not None and not (folder / "pairs.json").is_file():
        raise UsageError(f"no pairs.json in {printable(folder)}", "run `grader similarity UNIT --out DIR` first")
    similarity = load_similarity(folder, report_dir) if (folder / "pairs.json").is_file() else None
    with Gradebook(path, readonly=True) as gradebook:
        grades = gradebook.grades(unit.id)
    if not grades:
        raise UsageError(f"the gradebook {printable(path)} has no grades for {unit.id}",
                         f"grade first: `grader grade {unit.id} --submissions DIR`")
    source = Sources(course, unit.id, args.submissions) if args.submissions else None
    data = build_report(grades, unit, salt=course.salt, bank=load_bank(course, unit), source=source,
                        similarity=similarity)
    if args.format == "json":
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    else:
        from .page import render_page

        text = render_page(data, course_name=course.name)
    if out is None:
        sys.stdout.write(text)
        return 0
    _write(out, text)
    print(f"wrote {printable(out)} ({len(text.encode()) // 1024} KiB): {data['students']['total']} students, "
          f"{len(data['mistakes'])} recognised mistakes, {len(data['attention'])} things to look at", file=sys.stderr)
    return 0


def _write(out: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so a reader never sees half a report."""
    if not out.absolute().parent.is_dir():
        raise UsageError(f"the folder for --out {printable(out)} does not exist")
    if out.is_dir() or out.is_symlink():
        raise UsageError(f"--out {printable(out)} is a folder or a link", "give the path of the report file")
    write_text(out, text, mode=0o600)
