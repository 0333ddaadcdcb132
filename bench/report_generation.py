"""The class report for a generated class: builds a realistic gradebook of N students, then times `grader report`.

    python bench/report_generation.py [--n 200] [--seed 1] [--keep DIR]

The class is made from real verdicts: one student per Unit 1 variant of examples/make_examples.py
(the reference, each catalogued mistake, a blank and a broken notebook, hostile ones, an empty
folder) is graded with `grader grade`; then each of the N students takes, exercise by exercise,
the verdict of the variant that has the mistakes drawn for them (weaker students make more).
Quiz answers are written as answers.toml files (right with a probability from the student's
ability and the question's difficulty; wrong as a catalogued mistake, a distractor, a sign
slip, a format error; one question where stronger students do worse, as a miskeyed question
would) and graded by the quiz engine. Some students are late and two pairs hand in the same files.
Prints the time `grader report` takes for HTML and JSON (end to end, a fresh process).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from make_examples import write_student  # noqa: E402

from grader.config import load_course  # noqa: E402
from grader.gradebook import Gradebook  # noqa: E402
from grader.gradebook.store import StoredGrade  # noqa: E402
from grader.results import CheckResult, ExerciseResult, UnitResult  # noqa: E402

# catalogued mistake -> (the exercise it breaks, how common it is for an average student)
MISTAKES = {"softmax_no_max": ("softmax", 0.38), "hinge_includes_correct": ("multiclass_hinge_loss", 0.22),
            "ce_no_max": ("softmax_cross_entropy", 0.18), "delta_rule_sign": ("delta_rule_update", 0.12),
            "perceptron_no_activation": ("perceptron_forward", 0.09), "logistic_ascent": ("logistic_regression_step", 0.07),
            "softmax_first_axis": ("softmax", 0.06)}
# whole-notebook variants: how common
WHOLE = {"blank": 0.03, "syntax_error": 0.02, "runtime_error": 0.02, "monkeypatch_torch": 0.01, "fake_passed": 0.01}
EMPTY = "empty_folder"
MISKEYED = "softmax_prob"   # the question where stronger students do worse (a simulated miskeyed question)
DEADLINE = "2026-11-20T23:59:00+00:00"


def grade_variants(workdir: Path, gradebook: Path) -> dict[str, StoredGrade]:
    """Grade one student per variant for real (`grader grade`); variant -> its stored grade."""
    subs = workdir / "variants"
    for variant in ["correct", *MISTAKES, *WHOLE]:
        write_student(subs, variant, variant)
    (subs / EMPTY / "unit1").mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "grader", "grade", "unit1", "--submissions", str(subs), "--gradebook",
                    str(gradebook)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with Gradebook(gradebook, readonly=True) as gb:
        return {g.student: g for g in gb.grades("unit1")}


def _result(exercises: dict[str, Any], notes: list[str]) -> UnitResult:
    return UnitResult("unit1", exercises={
        name: ExerciseResult(name, ex.max_score, [CheckResult(c.name, c.passed, c.message, c.weight, c.hint,
                                                              stage=c.stage) for c in ex.checks],
                             ex.error, ex.graded_from, list(ex.notes)) for name, ex in exercises.items()},
        notes=list(notes))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def synthesise(variants: dict[str, StoredGrade], gradebook: Path, answers_dir: Path, n: int, seed: int) -> dict:
    """Record n students into gradebook from the graded variants, and write their answers.toml files."""
    from grader.quiz.batch import grade_quizzes

    course = load_course(ROOT)
    unit = course.unit("unit1")
    rng = random.Random(seed)
    made = {"mistakes": 0, "whole": 0, "late": 0, "copies": 0, "no_answers": 0}
    students = []
    with Gradebook(gradebook) as gb:
        for i in range(n):
            student = f"s{i:04d}"
            ability = rng.gauss(0, 1)
            weak = 2 * _sigmoid(-1.2 * ability)   # 1 for an average student, up to 2 for the weakest
            roll = rng.random()
            whole = None
            for variant, p in [*WHOLE.items(), (EMPTY, 0.01)]:
                roll -= p
                if roll < 0:
                    whole = variant
                    break
            if whole is not None:
                source = variants[whole]
                exercises, notes, status, error = source.exercises, source.notes, source.status, source.error
                made["whole"] += 1
            else:
                exercises = dict(variants["correct"].exercises)
                notes, status, error = [], "graded", None
                for variant, (exercise, p) in MISTAKES.items():
                    if rng.random() < p * weak and exercises[exercise] is variants["correct"].exercises[exercise]:
                        exercises[exercise] = variants[variant].exercises[exercise]
                        made["mistakes"] += 1
            content = hashlib.sha256(f"{student}-{seed}".encode()).hexdigest()
            if i in (11, 57):   # two pairs hand in the same files as the student before them
                content = students[-1][1]
                made["copies"] += 1
            late = rng.expovariate(1 / 7200) if rng.random() < 0.08 else 0.0
            made["late"] += late > 0
            result = _result(exercises, notes)
            penalty = round(min(result.score, 0.1 * result.max_score * math.ceil(late / 86400)), 2) if late else 0.0
            gb.record("unit1", student, result, status=status, content_hash=f"sha256:{content}", spec_hash="bench",
                      error=error, submitted_at=_stamp(late) if late else None, late_seconds=late, penalty=penalty)
            students.append((student, content, ability))
        folders = []
        for student, _, ability in students:
            folder = answers_dir / student
            folder.mkdir(parents=True)
            if rng.random() < 0.04:
                made["no_answers"] += 1
            else:
                (folder / "answers.toml").write_text(answers_toml(course, unit, student, ability, rng), "utf-8")
            folders.append((student, folder))
        grade_quizzes(course, unit, folders, gb)
    return made


def _stamp(late: float) -> str:
    import datetime as dt

    return (dt.datetime.fromisoformat(DEADLINE) + dt.timedelta(seconds=late)).isoformat(timespec="seconds")


def answers_toml(course: Any, unit: Any, student: str, ability: float, rng: random.Random) -> str:
    """A student's answers.toml: each answer right with probability sigmoid(1.7 (ability - difficulty))."""
    from grader.quiz.bank import load_bank
    from grader.quiz.variants import make_variant

    variant = make_variant(load_bank(course.root / "quizzes" / f"{unit.id}.toml"), salt=course.salt,
                           student_id=student)
    lines = []
    for q in variant.questions:
        b = int(hashlib.sha256(q.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF * 3.5 - 2.0
        right = rng.random() < _sigmoid(1.7 * ((-ability if q.id == MISKEYED else ability) - b))
        if rng.random() < 0.03:
            value: Any = "no idea"
        elif rng.random() < 0.02:
            continue   # left out
        else:
            value = q.answer if right else _wrong(q, rng)
        lines.append(f"{q.id} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _wrong(q: Any, rng: random.Random) -> Any:
    if q.kind == "choice":
        wrong = sorted(o.id for o in q.options if not o.correct)
        return wrong[0] if rng.random() < 0.6 else rng.choice(wrong)
    if q.kind == "multi":
        right = [o.id for o in q.options if o.correct]
        wrong = [o.id for o in q.options if not o.correct]
        return right[:-1] + wrong[:1] if wrong and rng.random() < 0.5 else right[:-1]
    if q.mistakes and rng.random() < 0.6:
        return rng.choice(q.mistakes)[0]
    if q.kind == "shape":
        return [*q.answer[:-1], q.answer[-1] + 1]
    if q.kind == "symbolic":
        return "0"
    if q.kind == "integer":
        return -q.answer if q.answer and rng.random() < 0.5 else q.answer + 1
    return -q.answer if rng.random() < 0.5 else round(q.answer * 1.5, 4)


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def make_class(dest: Path, n: int, seed: int) -> tuple[Path, dict]:
    """dest/gradebook.db with n students (dest/variants.db holds the graded variants)."""
    variants = grade_variants(dest, dest / "variants.db")
    made = synthesise(variants, dest / "gradebook.db", dest / "answers", n, seed)
    return dest / "gradebook.db", made


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, check=True, stderr=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the class (gradebook, report) in this folder")
    args = parser.parse_args()
    dest = Path(tempfile.mkdtemp(prefix="grader-report-bench-")) if args.keep is None else args.keep
    dest.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        gradebook, made = make_class(dest, args.n, args.seed)
        print(f"class of {args.n}: made in {time.perf_counter() - start:.1f} s; {made}")
        html = [_timed(["report", "unit1", "--gradebook", str(gradebook), "--out", str(dest / "report.html")])
                for _ in range(3)]
        js = [_timed(["report", "unit1", "--gradebook", str(gradebook), "--format", "json", "--out",
                      str(dest / "report.json")]) for _ in range(3)]
        size = (dest / "report.html").stat().st_size
        print(f"grader report, {args.n} students, HTML: {min(html):.2f} s (best of 3; {size // 1024} KiB); "
              f"JSON: {min(js):.2f} s (fresh process each, interpreter start included)")
    finally:
        if args.keep is None:
            shutil.rmtree(dest, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
