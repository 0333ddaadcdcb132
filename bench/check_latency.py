"""Time `grader check unit1` on a completed notebook against a bare `import torch`.

Both run as fresh processes, alternating, several times; the script prints
min and median of each and the ratio of the medians. Target: at most 1.5x.
With --course, `grader check` runs from that folder (a student release made by
`grader release`), with --python's interpreter (a student's venv) if given.

With --kernel, the notebook's `check("softmax")` is timed in a live kernel (ipykernel
through jupyter_client, as Jupyter runs it; a fresh kernel per repetition that has
imported torch and run the reference code): the first check (it starts the trusted
helper; its sandbox zygote starts after the reply), a second one `--think` seconds later
(a student reading the first result; 0 makes it wait for the zygote's start), and a
third at once. Targets: first at most 1.3x, second at most 0.2x a bare `import torch`.

    .venv/bin/python bench/check_latency.py [--reps 5] [--course RELEASE] [--python VENV/bin/python]
    .venv/bin/python bench/check_latency.py --kernel [--reps 5] [--think 10]
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
    if cmd[1] == "-m" and "unit1: 20 / 20 points" not in run.stdout:  # the quiz may still be unanswered
        sys.exit(f"grader check did not give full marks:\n{run.stdout}\n{run.stderr}")
    return elapsed


CHECK_CELL = 'from grader import check\nreport = check("softmax")\nreport'


def kernel_checks(course: Path, folder: Path, think: float) -> list[float]:
    """Seconds of three `check("softmax")` in a fresh kernel (execute request to idle), `think` s after the first."""
    sys.path.insert(0, str(ROOT / "tests"))
    from notebook_kernel import Kernel

    kernel = Kernel(folder, {**os.environ, "GRADER_COURSE": str(course)}, Path(tempfile.mkdtemp(dir=folder)))
    try:
        for cell in ("import torch", (ROOT / "solutions" / "unit1" / "shallow.py").read_text()):
            error = kernel.run(cell)["error"]
            if error:
                sys.exit(f"the kernel could not run the reference code: {error}")
        times = []
        for index in range(3):
            if index == 1:
                time.sleep(think)
            start = time.perf_counter()
            reply = kernel.run(CHECK_CELL)
            times.append(time.perf_counter() - start)
            if "PASS softmax" not in (reply["result"] or ""):
                sys.exit(f"check('softmax') did not pass in the kernel:\n{reply}")
        return times
    finally:
        kernel.close()


def kernel_main(args: argparse.Namespace) -> None:
    torch_only = [args.python, "-c", "import torch"]
    runs, imports = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "unit1"
        folder.mkdir()
        timed(torch_only)  # warm the page cache
        for _ in range(args.reps):
            imports.append(timed(torch_only))
            runs.append(kernel_checks(args.course, folder, args.think))
    ti = statistics.median(imports)
    print(f"python -c 'import torch'             min {min(imports):.2f} s  median {ti:.2f} s  (n={args.reps})")
    print(f"course: {args.course}")
    labels = ["first check('softmax')", f"second, {args.think:g} s later", "third, at once"]
    targets = ["  (target <= 1.3x)", "  (target <= 0.2x)", ""]
    for index, (label, target) in enumerate(zip(labels, targets)):
        times = [run[index] for run in runs]
        median = statistics.median(times)
        print(f"kernel: {label:<29} min {min(times):.2f} s  median {median:.2f} s  ratio {median / ti:.2f}x{target}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--kernel", action="store_true",
                        help="time check('softmax') in a live Jupyter kernel: the first and warm ones")
    parser.add_argument("--think", type=float, default=10.0,
                        help="with --kernel: seconds between the first check and the second")
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
