"""What `run_autograder` runs in Gradescope's container: grade /autograder/submission, write results.json.

    python -m grader.gradescope.run --root /autograder --course /autograder/source/course --unit unit1

The submission is graded as `grader grade` grades one student: in the sandbox (slot users,
namespaces, seccomp), on the hidden cases of the bundle's secret, whose feedback never shows
an expected value. The public cases of `grader check` run too, in the same worker pool, so a
student sees at once what `grader check` would say. results.json follows Gradescope's
specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):

* `score`: the hidden checks' score (the grade); `execution_time` in seconds; `output`;
* `tests[]`, two per exercise: "<exercise>: public checks", `visibility` "visible", score 0 of 0
  (feedback only), and "<exercise>", the graded part, `visibility` "after_published", with
  the hidden checks' redacted feedback.

When the grader itself fails, no results.json is written and the exit code is 3: Gradescope
then shows the run as failed (to be re-run) instead of a zero the student never earned.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from ..atomic import write_text
from ..results import ExerciseResult, UnitResult

OUTPUT_CHARS = 8000
PUBLIC_SUFFIX = ": public checks"


def main(argv: list[str] | None = None) -> int:
    """Grade the submission under --root and write --root/results/results.json; 0, or 3 when the grader failed."""
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope.run")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    parser.add_argument("--course", type=Path, help="default: ROOT/source/course")
    parser.add_argument("--unit", required=True)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        results = grade(args.course or args.root / "source" / "course", args.unit, args.root / "submission")
    except Exception as exc:  # noqa: BLE001  (no zero the student never earned: Gradescope shows a failed run)
        traceback.print_exception(exc, file=sys.stdout)
        print(f"grader: the autograder could not grade this submission: {type(exc).__name__}: {exc}")
        return 3
    results["execution_time"] = round(time.monotonic() - started)
    _write_json(args.root / "results" / "results.json", results)
    print(f"{args.unit}: {results['score']:g} points; sandbox and notes in results.json's output")
    return 0


def grade(course_dir: Path, unit_id: str, submission: Path) -> dict:
    """Grade one submission folder (public and hidden cases) and return results.json's object."""
    from ..batch import StudentFolder, content_hash, nothing_to_grade, open_launcher, prepare
    from ..checking import check_submission, plan_unit
    from ..config import load_course
    from ..notebook.collect import starter_code
    from ..secret import course_secret

    course = load_course(course_dir)
    unit = course.unit(unit_id)
    secret = course_secret(course)
    problem = None if submission.is_dir() else "nothing was submitted"
    folder = StudentFolder("submission", submission, problem)
    _digest, files = content_hash(submission)
    hidden_plan = plan_unit(course, unit, device="cpu", secret=secret)
    public_plan = plan_unit(course, unit, device="cpu")
    entry_names = {n for ex in hidden_plan.spec.exercises.values() for n in ex.entry}
    sub = prepare(folder, files, entry_names, starter_code(course.exercises_dir / unit.id))
    if not sub.cells:
        reason = "; ".join(sub.problems) or "no notebooks (.ipynb) or .py files were submitted"
        empty = nothing_to_grade(unit, reason, sub.problems)
        return results_json(empty, empty, f"Not graded: {reason}")
    # never without the sandbox: the container runs as root, beside the references and the secret
    choice = open_launcher(course, 1, mode="sandbox")
    try:
        hidden = check_submission(course, unit, sub, launcher=choice.launcher, plan=hidden_plan)
        public = check_submission(course, unit, sub, launcher=choice.launcher, plan=public_plan)
    finally:
        choice.launcher.close()
    notes = "".join(f"\nnote: {n}" for n in hidden.notes)
    head = (f"{unit.id}: the public checks of `grader check` give {public.score:g} / {public.max_score:g}; "
            "the grade comes from hidden checks, shown when grades are published." + notes)
    print(choice.report)   # to /autograder/results/stdout: the instructor's view only
    return results_json(hidden, public, head)


def results_json(hidden: UnitResult, public: UnitResult, output: str) -> dict:
    """Gradescope's results object: the grade from the hidden checks, feedback from both."""
    tests = []
    for name, graded in hidden.exercises.items():
        seen = public.exercises.get(name, graded)
        tests.append(_test(f"{name}{PUBLIC_SUFFIX}", seen, 0.0, 0.0, "visible"))
        tests.append(_test(name, graded, graded.score, graded.max_score, "after_published"))
    return {"score": round(hidden.score, 4), "output": _clip(output), "stdout_visibility": "hidden", "tests": tests}


def _test(name: str, ex: ExerciseResult, score: float, max_score: float, visibility: str) -> dict:
    from ..report.text import render_exercise

    return {"name": name, "score": round(score, 4), "max_score": round(max_score, 4),
            "status": "passed" if ex.passed else "failed", "output": _clip(render_exercise(ex)),
            "visibility": visibility}


def _clip(text: str) -> str:
    return text if len(text) <= OUTPUT_CHARS else text[: OUTPUT_CHARS - 20] + "\n... (shortened)\n"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(data, indent=2))


if __name__ == "__main__":
    sys.exit(main())
