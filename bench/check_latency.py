"""Time `grader check unit1` on a completed notebook against a bare `import torch`.

Both run as fresh processes, alternating, several times; the script prints
min and median of each and the ratio of the medians. Target: at most 1.5x.
With --course, `grader check` runs from that folder (a student release made by
`grader release`), with --python's interpreter (a student's venv) if given.

    .venv/bin/python bench/check_latency.py [--reps 5] [--course RELEASE] [--python VENV/bin/python]
"""
from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--course", type=Path, default=ROOT, help="run `grader check` from this course folder")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs `grader check`")
    args = parser.parse_args()
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
