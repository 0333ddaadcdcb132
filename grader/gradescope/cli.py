"""`grader export-gradescope unitN OUT.zip`: the command line over grader.gradescope.bundle."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Course


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register `export-gradescope` (called by grader.cli)."""
    p = sub.add_parser("export-gradescope", help="build a Gradescope autograder bundle for a unit (instructors)")
    p.add_argument("unit")
    p.add_argument("out", type=Path, metavar="OUT.zip")
    p.add_argument("--force", action="store_true", help="replace OUT.zip if it exists")
    p.set_defaults(handler=export_gradescope_command)


def export_gradescope_command(args: argparse.Namespace, course: Course) -> int:
    """Write the bundle and say what it holds."""
    from .bundle import build_bundle

    unit = course.unit(args.unit)
    names = build_bundle(course, unit, args.out, force=args.force)
    size = args.out.stat().st_size
    print(f"{args.out}: Gradescope autograder for {unit.id}, {len(names)} files, {size / 1e6:.1f} MB (mode 0600)")
    for name in names:
        print(f"  {name}")
    print("upload it as the assignment's autograder (Ubuntu 24.04 base image); keep it private: "
          "it holds the references")
    return 0
