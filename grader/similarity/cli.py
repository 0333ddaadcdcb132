"""`grader similarity UNIT`: which students' code is alike, for an instructor to read side by side."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import Course
from ..errors import UsageError


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register `similarity` (called by grader.cli)."""
    p = sub.add_parser("similarity", help="find pairs of students whose code is alike (instructors)")
    p.add_argument("unit")
    p.add_argument("--submissions", type=Path, metavar="DIR",
                   help="nbgrader layout: DIR/<student_id>/<unit>/ with notebooks or .py files (required)")
    p.add_argument("--gradebook", type=Path, metavar="FILE",
                   help="add each student's grade and whether the files changed since grading "
                        "(default: gradebook.db beside course.toml, when there)")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="list only pairs scoring at least T (0..1; default: every pair); clusters and pages use it too")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write DIR/pairs.json, DIR/index.html and DIR/pair-<k>.html (default: similarity-<unit>/)")
    p.add_argument("--pages", type=int, default=None, metavar="N",
                   help="write pages for at most the N most similar pairs at or above the threshold (default: 100)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object (as DIR/pairs.json)")
    p.set_defaults(handler=similarity_command)


def similarity_command(args: argparse.Namespace, course: Course) -> int:
    """Compare, write the pages, print a summary (or the JSON); 0 whatever the scores."""
    from .fingerprint import available
    from .report import MAX_PAGES, Options, check_out, similarity_report, write_report

    if not available():
        raise UsageError("`grader similarity` needs copydetect, which is not installed",
                         'install the extra: pip install -e ".[similarity]" (scripts/setup.sh does)')
    if args.submissions is None:
        raise UsageError("say where the submissions are: --submissions DIR",
                         "the folder `grader grade` read, with DIR/<student>/<unit>/")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, not {args.threshold:g}", "for example --threshold 0.6")
    if args.pages is not None and args.pages < 0:
        raise UsageError("--pages must be 0 or more")
    out = args.out or Path(f"similarity-{args.unit}")
    check_out(out)   # before the work, not after it
    options = Options(args.submissions, args.threshold, MAX_PAGES if args.pages is None else args.pages,
                      args.gradebook)
    report, comparison = similarity_report(course, args.unit, options)
    write_report(report, comparison, out, course_name=course.name)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    sys.stdout.write(summary_text(report, out))
    return 0


def summary_text(report: dict, out: Path) -> str:
    """A few lines for the terminal: the most similar pairs, the clusters, where the pages are."""
    from ..report.safe import printable

    lines = [f"{report['unit']}: {report['compared']} students compared, {report['pair_count']} pairs"]
    top = report["pairs"][:10]
    if top:
        lines.append("most similar pairs:")
        lines += [f"  {p['score']:.2f}  {p['a']}  {p['b']}" + ("  (little code)" if p["short"] else "") for p in top]
    if report["clusters"]:
        lines.append(f"clusters at score >= {report['cluster_threshold']:g}:")
        lines += [f"  {len(c['students'])}: {', '.join(c['students'][:12])}"
                  + (" ..." if len(c["students"]) > 12 else "") for c in report["clusters"][:10]]
    for s in report["skipped"]:
        lines.append(f"not compared: {s['student']}: {s['why']}")
    lines.append(f"pages: {printable(out / 'index.html')}")
    lines.append("a flag is a reason to look at two submissions side by side, not a verdict")
    return "\n".join(lines) + "\n"
