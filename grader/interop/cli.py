"""`grader export-nbgrader`: the command line over grader.interop (instructors)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Course
from ..errors import UsageError


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register `export-nbgrader` (called by grader.cli)."""
    p = sub.add_parser("export-nbgrader", help="write the course as an nbgrader course folder (instructors)")
    p.add_argument("out", type=Path, metavar="OUT", help="the nbgrader course folder to write")
    p.add_argument("--units", nargs="+", metavar="UNIT", help="only these units (default: every unit)")
    p.add_argument("--force", action="store_true", help="rewrite source/ of an earlier export in OUT")
    p.set_defaults(handler=export_nbgrader_command)


def export_nbgrader_command(args: argparse.Namespace, course: Course) -> int:
    """Write OUT/nbgrader_config.py and OUT/source/<unit>/*.ipynb; print what was written."""
    try:
        import nbformat  # noqa: F401
    except ImportError:
        raise UsageError("`grader export-nbgrader` needs nbformat", 'pip install "dl-grader[nbgrader]"') from None
    from .nbgrader_export import export_nbgrader

    written = export_nbgrader(course, args.out, units=args.units, force=args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"wrote {args.out / 'nbgrader_config.py'}")
    print(f"next: cd {args.out} && nbgrader generate_assignment {written[0].parent.name}" if written else "")
    return 0
