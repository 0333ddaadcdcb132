"""Time a unit through the real nbgrader: export, generate_assignment, autograde, `grader grade --nbgrader-db`.

    python bench/nbgrader_roundtrip.py [--unit unit1] [--n 4] [--keep DIR]

Builds a scratch course (the real solutions and starters, its own secret), exports it with
`grader export-nbgrader`, runs `nbgrader generate_assignment`, hands in N copies of the
reference notebook in nbgrader's submitted/ layout, then times `nbgrader autograde` (the test
cells run our checks from the students' kernels) against `grader grade --nbgrader-db` (the
sandbox), and says whether both gave every student full marks. Prints seconds per phase
and per student.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "batch"))


def run(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GRADER_COURSE", None)
    started = time.monotonic()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args[:4])} failed:\n{proc.stderr[-3000:]}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", default="unit1")
    parser.add_argument("--n", type=int, default=4, help="students (copies of the reference notebook)")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    import nbformat
    from batch_support import make_course
    from nbgrader.api import Gradebook

    work = args.keep or Path(tempfile.mkdtemp(prefix="nbg-bench-"))
    course = make_course(work / "course")
    (course / "exercises").symlink_to(ROOT / "exercises")
    nb = work / "nbgrader"
    grader = [sys.executable, "-m", "grader", "--course", str(course)]
    figures = {"export-nbgrader": run([*grader, "export-nbgrader", str(nb), "--units", args.unit], course)}
    figures["generate_assignment"] = run([sys.executable, "-m", "nbgrader", "generate_assignment", args.unit], nb)
    for source in (nb / "source" / args.unit).glob("*.ipynb"):   # a student who hands in the references
        reference = nbformat.read(source, as_version=4)
        for student in range(args.n):
            target = nb / "submitted" / f"s{student:03d}" / args.unit / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(reference, target)
    figures["nbgrader autograde"] = run([sys.executable, "-m", "nbgrader", "autograde", args.unit], nb)
    figures["grader grade --nbgrader-db"] = run([*grader, "grade", args.unit, "--submissions", str(nb / "submitted"),
                                                 "--nbgrader-db", str(nb / "gradebook.db")], course)
    with Gradebook(f"sqlite:///{nb / 'gradebook.db'}") as gb:
        full = all(s.score == s.max_score for s in gb.assignment_submissions(args.unit))
    for phase, seconds in figures.items():
        per = f"  ({seconds / args.n:.1f} s per student)" if phase.startswith(("nbgrader auto", "grader grade")) else ""
        print(f"{phase:<28} {seconds:7.1f} s{per}")
    print(f"every student full marks in nbgrader's gradebook: {full}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main())
