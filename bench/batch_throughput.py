"""Throughput of `grader grade`: a class of N Unit 1 submissions, graded with the sandbox on.

    python bench/batch_throughput.py [--n 200] [--workers 0] [--no-loop] [--keep DIR]

Generates N submissions (mostly correct, some with catalogued mistakes, a few hostile),
grades them with `grader grade` in a fresh process (end to end: interpreter start, the
trusted side's torch import, zygote start, grading, gradebook, CSV), and in the same run
times a fresh `python -c "import torch"`. Prints submissions per second and the cost of
one submission as a multiple of that import (target: at most 0.1x).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from make_examples import variant_cells, write_notebook  # noqa: E402

BUGGY = ["softmax_no_max", "softmax_first_axis", "hinge_includes_correct", "perceptron_no_activation",
         "delta_rule_sign", "ce_no_max", "logistic_ascent", "blank", "runtime_error", "syntax_error"]
HOSTILE = ["monkeypatch_torch", "fake_passed", "os_exit", "read_solutions", "lying_tensor"]
LOOP = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"


def make_class(dest: Path, n: int, loop: bool) -> dict[str, int]:
    """Write n students: every 10th buggy, every 40th hostile (one of them looping), the rest correct."""
    kinds = {"correct": 0, "buggy": 0, "hostile": 0}
    for i in range(n):
        student = f"s{i:04d}"
        if i % 40 == 7:
            variant = HOSTILE[(i // 40) % len(HOSTILE)]
            cells = variant_cells(variant)
            if loop and i == 7:
                cells = cells + [LOOP]
            kinds["hostile"] += 1
        elif i % 10 == 3:
            cells = variant_cells(BUGGY[(i // 10) % len(BUGGY)])
            kinds["buggy"] += 1
        else:
            cells = variant_cells("correct")
            kinds["correct"] += 1
        write_notebook(dest / student / "unit1" / "unit1.ipynb", cells)
    return kinds


def time_torch_import(reps: int = 3) -> list[float]:
    """Wall seconds of a fresh `python -c "import torch"`, reps times."""
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--no-loop", action="store_true", help="leave out the student whose cell loops forever")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-bench-"))
    sub, gradebook = work / "submitted", work / "gradebook.db"
    kinds = make_class(sub, args.n, not args.no_loop)
    if gradebook.exists():
        gradebook.unlink()
    imports = time_torch_import()
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "grade", "unit1",
                           "--submissions", str(sub), "--gradebook", str(gradebook), "--csv", str(work / "grades.csv"),
                           "--workers", str(args.workers), "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    data = json.loads(proc.stdout)
    totals = [s["total"] for s in data["students"].values()]
    sandbox = proc.stderr.splitlines()[0]
    batch_line = next(line for line in proc.stderr.splitlines() if line.startswith("unit1:"))
    in_batch = float(batch_line.rsplit("(", 1)[1].split(" s)")[0])
    torch_s = statistics.median(imports)
    per_sub = wall / args.n
    print(sandbox)
    print(f"class: {args.n} submissions ({kinds['correct']} correct, {kinds['buggy']} buggy, "
          f"{kinds['hostile']} hostile{', one looping forever' if not args.no_loop else ''}); "
          f"{sum(t == 13 for t in totals)} scored 13/13; cores: {os.cpu_count()}")
    print(f"fresh `python -c 'import torch'`: median {torch_s:.2f} s (runs: {', '.join(f'{t:.2f}' for t in imports)})")
    print(f"grader grade, end to end: {wall:.1f} s -> {args.n / wall:.1f} submissions/s, "
          f"{per_sub:.3f} s per submission = {per_sub / torch_s:.3f}x a fresh torch import")
    print(f"inside the batch (after start-up): {in_batch:.1f} s -> {args.n / in_batch:.1f} submissions/s, "
          f"{in_batch / args.n:.3f} s per submission = {in_batch / args.n / torch_s:.3f}x")
    print(f"target <= 0.1x: {'met' if per_sub / torch_s <= 0.1 else 'NOT met'}")
    if not args.keep:
        import shutil
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
