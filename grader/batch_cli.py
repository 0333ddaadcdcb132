"""`grader grade` and `grader export`: the command line over grader.batch and the gradebook."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .atomic import write_text
from .config import Course
from .errors import UsageError


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register `grade` and `export` (called by grader.cli)."""
    p = sub.add_parser("grade", help="grade every student's submission for a unit (instructors)")
    p.add_argument("unit")
    p.add_argument("--submissions", type=Path, required=True, metavar="DIR",
                   help="nbgrader layout: DIR/<student_id>/<unit>/ with notebooks or .py files")
    p.add_argument("--gradebook", type=Path, metavar="FILE", help="SQLite gradebook (default: gradebook.db beside course.toml)")
    p.add_argument("--csv", type=Path, metavar="FILE",
                   help="also write a CSV of this run's students (one row each); with --all, every student of the unit")
    p.add_argument("--all", action="store_true", help="--csv lists every student of the unit in the gradebook")
    p.add_argument("--feedback", type=Path, metavar="DIR", help="write DIR/<student>/<unit>.html feedback pages")
    p.add_argument("--nbgrader-db", type=Path, metavar="PATH",
                   help="also write these trusted scores into nbgrader's gradebook.db (docs/interop.md)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="parallel slots (default: all cores)")
    p.add_argument("--force", action="store_true", help="re-grade unchanged submissions too")
    p.add_argument("--public", action="store_true",
                   help="grade on the public cases of `grader check` (your own trials), not the hidden cases")
    p.add_argument("--student", metavar="ID", help="grade only this student")
    p.add_argument("--json", action="store_true", help="print one JSON object with every student's scores")
    p.add_argument("--exam", action="store_true", help="refuse to grade unless every strong sandbox layer is in force")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"],
                   help="where references and student code run (default: cpu)")
    p.add_argument("--launcher", default="auto", choices=["auto", "sandbox", "local"],
                   help="auto: the sandbox, falling back loudly to local processes; sandbox: never fall back; "
                        "local: no isolation (development only)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="grade on a Dask cluster: a scheduler address (tcp://HOST:8786) or local:N for N worker "
                        "processes here (needs the `cluster` extra; docs/cluster.md)")
    p.set_defaults(handler=grade_command)

    p = sub.add_parser("export", help="write a unit's grades from the gradebook")
    p.add_argument("unit")
    p.add_argument("--format", choices=["csv", "json", "canvas", "moodle", "gradescope-csv"], default="csv",
                   help="csv/json: the gradebook's own; canvas, moodle, gradescope-csv: that system's grade import")
    p.add_argument("--gradebook", type=Path, metavar="FILE")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of standard output")
    p.add_argument("--roster", type=Path, metavar="FILE",
                   help="CSV mapping student_id to LMS ids and names (docs/interop.md)")
    p.add_argument("--assignment", metavar="NAME", help="the LMS column's name (default: 'unit1: <title>')")
    p.add_argument("--moodle-id", choices=["email", "idnumber", "username"], default="idnumber",
                   help="the column Moodle identifies users by (default: idnumber)")
    p.set_defaults(handler=export_command)


def _gradebook_path(args: argparse.Namespace, course: Course) -> Path:
    return (args.gradebook or course.root / "gradebook.db").absolute()


def grade_command(args: argparse.Namespace, course: Course) -> int:
    """Run a batch; 0 when it finished (whatever the scores), 3 when the grader could not grade someone."""
    from .batch import BatchOptions, grade_batch
    from .gradebook import Gradebook
    from .gradebook.export import csv_text, summary_json
    from .report.progress import Progress
    from .report.summary import render_summary, summarize

    unit = course.unit(args.unit)
    if args.workers < 0:
        raise UsageError("--workers must be 0 (all cores) or more")
    if args.all and not args.csv:
        raise UsageError("--all says which students --csv lists; give --csv FILE too")
    if args.nbgrader_db:
        from .interop.nbgrader_db import check_db

        if args.public:
            raise UsageError("--nbgrader-db writes grades, and --public grades on the public checks (trials only)",
                             "leave out --public to write the hidden checks' scores into nbgrader")
        check_db(args.nbgrader_db, unit)   # before grading: a wrong path is said at once
    options = BatchOptions(workers=args.workers, force=args.force, student=args.student, exam=args.exam,
                           launcher=args.launcher, device=args.device, public=args.public,
                           cluster=args.cluster)
    progress: list[Progress] = []
    if args.public:
        print("grader: grading on the public cases of `grader check` (--public), not the hidden ones",
              file=sys.stderr, flush=True)

    def on_start(report: str, jobs: int) -> None:
        print(report, file=sys.stderr, flush=True)
        progress.append(Progress(jobs))
        progress[0].start()

    def on_outcome(outcome) -> None:  # noqa: ANN001
        progress[0].advance(failed=outcome.status == "grader_error")   # a student's unreadable file is no failure of ours

    with Gradebook(_gradebook_path(args, course)) as gradebook:
        gradebook.lock()
        try:
            report = grade_batch(course, unit, args.submissions, gradebook, options,
                                 on_start=on_start, on_outcome=on_outcome,
                                 on_wait=lambda message: print(f"grader: {message}", file=sys.stderr, flush=True),
                                 on_note=lambda message: print(f"grader: {message}", file=sys.stderr, flush=True))
        finally:
            if progress:
                progress[0].finish()
        grades = gradebook.grades(unit.id, report.students)
        if args.csv:
            _write_atomic(args.csv, csv_text(gradebook.grades(unit.id) if args.all else grades, unit))
        if args.feedback:
            _write_feedback(args.feedback, grades, unit, course)
        if args.nbgrader_db:
            from .interop.nbgrader_db import write_scores

            written = write_scores(args.nbgrader_db, unit, grades, args.submissions)
            for note in [f"wrote {written.scores} scores of {written.students} students into {args.nbgrader_db}",
                         *written.notes]:
                print(f"grader: {note}", file=sys.stderr, flush=True)
    summary = render_summary(summarize(report, grades, unit))
    if args.json:
        sys.stderr.write(summary)
        print(json.dumps(summary_json(grades, unit), indent=2))
    else:
        sys.stdout.write(summary)
    return 3 if report.aborted or report.count("grader_error") else 0


def export_command(args: argparse.Namespace, course: Course) -> int:
    """Write the unit's grades as CSV or JSON from the gradebook."""
    from .gradebook import Gradebook
    from .gradebook.export import csv_text, full_json

    unit = course.unit(args.unit)
    if (args.roster or args.assignment) and args.format in ("csv", "json"):
        raise UsageError("--roster and --assignment are for --format canvas, moodle or gradescope-csv")
    with Gradebook(_gradebook_path(args, course), readonly=True) as gradebook:
        grades = gradebook.grades(unit.id)
    if args.format in ("csv", "json"):
        text = csv_text(grades, unit) if args.format == "csv" else json.dumps(full_json(grades, unit), indent=2) + "\n"
    else:
        from .gradebook.lms import lms_text

        text = lms_text(args, grades, unit)
    if args.output:
        _write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _write_feedback(folder: Path, grades: list, unit, course: Course) -> None:  # noqa: ANN001
    from .report.feedback_html import render_feedback

    for grade in grades:
        _write_atomic(folder / grade.student / f"{unit.id}.html", render_feedback(grade, unit, course_name=course.name))


def _write_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing (its folder created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text, fsync=True)
