"""Time `grader check unit1` on a completed notebook against a bare `import torch`.

Both run as fresh processes, alternating, several times; the script prints
min and median of each and the ratio of the medians. Target: at most 1.5x.
With --course, `grader check` runs from that folder (a student release made by
`grader release`), with --python's interpreter (a student's venv) if given.

With --kernel, the notebook's `check("softmax")` is timed in a live kernel (ipykernel
through jupyter_client, as Jupyter runs it; a fresh kernel per repetition that has
imported torch and run the reference code): the first check (it starts the trusted
helper and its sandbox zygote) and a second one (warm). Targets: first at most 1.3x,
second at most 0.2x a bare `import torch`.

    .venv/bin/python bench/check_latency.py [--reps 5] [--course RELEASE] [--python VENV/bin/python]
    .venv/bin/python bench/check_latency.py --kernel [--reps 5]
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


def completed_notebook(folder: Path) -> Path:
    """The starter notebook with every skeleton replaced by the reference code."""
    reference = (ROOT / "solutions" / "unit1" / "shallow.py").read_text()
    nb = json.loads((ROOT / "exercises" / "unit1" / "shallow_networks.ipynb").read_text())
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "source": reference})
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "NotImplementedError" in "".join(cell["source"]):
            cell["source"] = "# answered below\n"
    path = folder / "shallow_networks.ipynb"
    path.write_text(json.dumps(nb))
    return path


def timed(cmd: list[str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if cmd[1] == "-m" and "unit1: 13 / 13 points" not in run.stdout:  # the quiz may still be unanswered
        sys.exit(f"grader check did not give full marks:\n{run.stdout}\n{run.stderr}")
    return elapsed


CHECK_CELL = 'from grader import check\nreport = check("softmax")\nreport'


def kernel_checks(course: Path, folder: Path) -> tuple[float, float]:
    """(first, second) seconds of `check("softmax")` in a fresh kernel, from execute request to idle."""
    sys.path.insert(0, str(ROOT / "tests"))
    from notebook_kernel import Kernel

    kernel = Kernel(folder, {**os.environ, "GRADER_COURSE": str(course)}, Path(tempfile.mkdtemp(dir=folder)))
    try:
        for cell in ("import torch", (ROOT / "solutions" / "unit1" / "shallow.py").read_text()):
            error = kernel.run(cell)["error"]
            if error:
                sys.exit(f"the kernel could not run the reference code: {error}")
        times = []
        for _ in range(2):
            start = time.perf_counter()
            reply = kernel.run(CHECK_CELL)
            times.append(time.perf_counter() - start)
            if "PASS softmax" not in (reply["result"] or ""):
                sys.exit(f"check('softmax') did not pass in the kernel:\n{reply}")
        return times[0], times[1]
    finally:
        kernel.close()


def kernel_main(args: argparse.Namespace) -> None:
    torch_only = [args.python, "-c", "import torch"]
    firsts, seconds, imports = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "unit1"
        folder.mkdir()
        timed(torch_only)  # warm the page cache
        for _ in range(args.reps):
            imports.append(timed(torch_only))
            first, second = kernel_checks(args.course, folder)
            firsts.append(first)
            seconds.append(second)
    ti, fi, si = statistics.median(imports), statistics.median(firsts), statistics.median(seconds)
    print(f"python -c 'import torch'        min {min(imports):.2f} s  median {ti:.2f} s  (n={args.reps})")
    print(f"course: {args.course}")
    print(f"kernel: first check('softmax')  min {min(firsts):.2f} s  median {fi:.2f} s  "
          f"ratio {fi / ti:.2f}x  (target <= 1.3x)")
    print(f"kernel: second check('softmax') min {min(seconds):.2f} s  median {si:.2f} s  "
          f"ratio {si / ti:.2f}x  (target <= 0.2x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--kernel", action="store_true",
                        help="time check('softmax') in a live Jupyter kernel: the first and a warm second one")
    parser.add_argument("--course", type=Path, default=ROOT, help="run `grader check` from this course folder")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs `grader check`")
    args = parser.parse_args()
    if args.kernel:
        kernel_main(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        notebook = completed_notebook(Path(tmp))
        check = [args.python, "-m", "grader", "check", "unit1", "--path", str(notebook), "--device", "cpu"]
        torch_only = [args.python, "-c", "import torch"]
        timed(check, args.course), timed(torch_only)  # warm the page cache
        checks, imports = [], []
        for _ in range(args.reps):
            imports.append(timed(torch_only))
            checks.append(timed(check, args.course))
    ci, ti = statistics.median(checks), statistics.median(imports)
    print(f"python -c 'import torch'   min {min(imports):.2f} s  median {ti:.2f} s  (n={args.reps})")
    print(f"course: {args.course}")
    print(f"grader check unit1         min {min(checks):.2f} s  median {ci:.2f} s  (n={args.reps})")
    print(f"ratio of medians           {ci / ti:.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
