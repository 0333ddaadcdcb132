"""`grader release OUT`: the command line over grader.release.build."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import Course


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register `release` (called by grader.cli)."""
    p = sub.add_parser("release", help="write the student release of the course into a folder (instructors)")
    p.add_argument("out", type=Path, metavar="OUT", help="the folder to write (must not exist, or be empty)")
    p.add_argument("--units", nargs="+", metavar="UNIT", help="release only these units (default: all)")
    p.add_argument("--force", action="store_true", help="replace an earlier release in OUT")
    p.add_argument("--no-wheel", action="store_true",
                   help="do not include a wheel of the grader; the README says to install it from the index")
    p.set_defaults(handler=release_command)


def release_command(args: argparse.Namespace, course: Course) -> int:
    """Build the release and say what it holds and what stays with the instructor."""
    from .build import build_release

    report = build_release(course, args.out, units=args.units, force=args.force, wheel=not args.no_wheel)
    sys.stdout.write(render_report(report))
    return 0


def render_report(report) -> str:  # noqa: ANN001
    """A short summary of a ReleaseReport for the terminal."""
    lines = [f"release of course version {report.course_version or '(unversioned)'} written to {report.out}",
             f"  {len(report.files)} files, {report.size / 2**20:.1f} MiB, units {', '.join(report.units)}, "
             f"{report.seconds:.0f} s",
             f"  grader: {'wheels/' + report.wheel if report.wheel else 'from the package index (no wheel)'}"]
    for export in report.exports:
        shipped = sum(export.public.values())
        later = sum(len(v) for v in export.at_grading.values())
        lines.append(f"  {export.unit}: {shipped} public checks" + (f", {later} checked at grading" if later else ""))
        for exercise, names in export.at_grading.items():
            for name in names:
                lines.append(f"    checked at grading: {exercise}: {name}")
        for exercise, hints in export.dropped_hints.items():
            for hint in hints:
                lines.append(f"    hint not in the release: {exercise}: {hint[:70]}")
    return "\n".join(lines) + "\n"
