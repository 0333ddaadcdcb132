"""A simulated term on the local pool and on a Dask LocalCluster of the same cores.

    python bench/cluster_throughput.py                          # the issue's term: 1,000 and 10,000 of Unit 1, 1,000 of Unit 3
    python bench/cluster_throughput.py --unit1 40,200 --trained 6,30   # minutes on a small machine
    python bench/cluster_throughput.py --workers 8 --keep /tmp/term

For each class size it writes the class (Unit 1 from examples/make_examples.py: mostly
correct, every 10th buggy, every 40th hostile; the training unit from its references and
catalogued mistakes, as bench/batch_throughput.py does), then grades it twice with
`grader grade` in a fresh process: `--workers W` (the local pool) and `--cluster local:W`
(a LocalCluster of W worker processes, one thread each), into separate gradebooks, and checks
that both gave every student the same total. In the same run it times a fresh
`python -c "import torch"`. It prints, per size and path: seconds end to end, submissions per
second and seconds per submission as a multiple of that import; Dask's overhead over the
local pool (target: at most 10%); and, between the smallest and largest size, the marginal cost
of one more submission (the fixed start-up cancels out) against the per-submission cost at the
largest size (target: linear growth, a flat per-submission cost).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch_throughput import UnitClass, make_class, time_torch_import  # noqa: E402

OVERHEAD_TARGET = 0.10


def grade(unit: str, sub: Path, gradebook: Path, workers: int, cluster: bool) -> tuple[float, dict[str, float]]:
    """Run `grader grade` in a fresh process; (wall seconds, student -> total)."""
    where = ["--cluster", f"local:{workers}"] if cluster else ["--workers", str(workers)]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "grade", unit, "--submissions",
                           str(sub), "--gradebook", str(gradebook), "--json", *where], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"grader grade {' '.join(where)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, {s: v["total"] for s, v in json.loads(proc.stdout)["students"].items()}


def measure(unit: str, n: int, workers: int, work: Path) -> dict[str, float]:
    """Grade a class of n on both paths; seconds end to end for each."""
    sub = work / f"{unit}-{n}"
    if not sub.exists():
        if unit == "unit1":
            make_class(sub, n, loop=False)
        else:
            UnitClass(unit).write(sub, n)
    seconds = {}
    totals = {}
    for path, cluster in (("local pool", False), ("dask", True)):
        gradebook = work / f"{unit}-{n}-{'dask' if cluster else 'pool'}.db"
        gradebook.unlink(missing_ok=True)
        seconds[path], totals[path] = grade(unit, sub, gradebook, workers, cluster)
        print(f"  {unit} n={n:>6} {path:<10} {seconds[path]:8.1f} s  {n / seconds[path]:6.2f} submissions/s",
              flush=True)
    if totals["local pool"] != totals["dask"]:
        differ = sorted(s for s in totals["dask"] if totals["dask"][s] != totals["local pool"].get(s))
        raise SystemExit(f"the two paths disagree on {len(differ)} students, e.g. {differ[:5]}")
    return seconds


def report(unit: str, sizes: list[int], runs: dict[int, dict[str, float]], torch_s: float) -> None:
    """Print the per-unit figures: cost per submission, Dask's overhead, growth with class size."""
    print(f"{unit}:")
    for n in sizes:
        pool, dask = runs[n]["local pool"], runs[n]["dask"]
        print(f"  n={n:>6}: local pool {pool / n:.3f} s/submission = {pool / n / torch_s:.3f}x import torch; "
              f"dask {dask / n:.3f} s = {dask / n / torch_s:.3f}x; dask overhead {dask / pool - 1:+.1%} "
              f"(target <= {OVERHEAD_TARGET:.0%}: {'met' if dask / pool - 1 <= OVERHEAD_TARGET else 'NOT met'})")
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    for path in ("local pool", "dask"):
        marginal = (runs[large][path] - runs[small][path]) / (large - small)
        fixed = runs[small][path] - marginal * small
        flat = runs[large][path] / large
        print(f"  {path:<10} from {small} to {large}: marginal {marginal:.3f} s/submission "
              f"({marginal / torch_s:.3f}x import torch), fixed start-up {fixed:.1f} s; per-submission cost at "
              f"{large} is {flat / marginal:.2f}x the marginal one (1.00 = flat)")
    marginal = {p: (runs[large][p] - runs[small][p]) / (large - small) for p in runs[large]}
    steady = marginal["dask"] / marginal["local pool"] - 1
    print(f"  dask overhead per additional submission (start-up excluded): {steady:+.1%} "
          f"(target <= {OVERHEAD_TARGET:.0%}: {'met' if steady <= OVERHEAD_TARGET else 'NOT met'})")
    for target in (1_000, 10_000):
        if target > large:
            total = {p: runs[small][p] + marginal[p] * (target - small) for p in marginal}
            print(f"  extrapolated to {target:,} submissions on these cores: local pool {total['local pool'] / 60:.1f} "
                  f"min, dask {total['dask'] / 60:.1f} min (overhead {total['dask'] / total['local pool'] - 1:+.1%})")


def _sizes(text: str) -> list[int]:
    return sorted({int(n) for n in text.split(",") if n.strip() and int(n) > 0})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit1", default="1000,10000", help="Unit 1 class sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--trained", default="1000", help="the training unit's class sizes, comma-separated (0: skip)")
    parser.add_argument("--trained-unit", default="unit3", help="the unit whose checks train models (default unit3)")
    parser.add_argument("--workers", type=int, default=0, help="cores for both paths (default: all)")
    parser.add_argument("--keep", type=Path, help="write classes and gradebooks here and keep them")
    args = parser.parse_args(argv)
    workers = args.workers or os.cpu_count() or 1
    sizes = _sizes(args.unit1)
    trained = _sizes(args.trained)
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-cluster-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    imports = time_torch_import()
    torch_s = statistics.median(imports)
    print(f"cores: {os.cpu_count()}, workers: {workers}; fresh `python -c 'import torch'`: median {torch_s:.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in imports)})", flush=True)
    units = [(unit, unit_sizes) for unit, unit_sizes in (("unit1", sizes), (args.trained_unit, trained)) if unit_sizes]
    results = {}
    for unit, unit_sizes in units:
        results[unit] = {n: measure(unit, n, workers, work) for n in unit_sizes}
    for unit, unit_sizes in units:
        report(unit, unit_sizes, results[unit], torch_s)
    if not args.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
