"""Cost of the Gradescope autograder: building the bundle, and one run_autograder per submission.

    python bench/gradescope_run.py [--unit unit1] [--students ada,ben,jo]

Builds the bundle with `grader export-gradescope` in a fresh process, unpacks it into a
temporary root laid out as Gradescope's container (/autograder: source/, submission/,
results/, run_autograder), and runs run_autograder once per example submission of
examples/submitted/ (each a fresh process, as each Gradescope submission is a fresh container,
with this checkout's .venv as the container's venv). Prints the bundle's size and build time,
and per submission the wall time, the score and results.json's execution_time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--unit", default="unit1")
    parser.add_argument("--students", default="ada,ben,jo", help="folders of examples/submitted/")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "GRADER_COURSE"}
    with tempfile.TemporaryDirectory(prefix="bench-gradescope-") as tmp:
        work = Path(tmp)
        bundle = work / "autograder.zip"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "export-gradescope", args.unit,
                        str(bundle)], check=True, capture_output=True, env=env)
        print(f"bundle: {bundle.stat().st_size / 1e6:.2f} MB, built in {time.monotonic() - started:.1f} s")
        root = work / "autograder"
        with zipfile.ZipFile(bundle) as archive:
            for info in archive.infolist():
                target = root / "source" / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(info))
                os.chmod(target, (info.external_attr >> 16) & 0o777)
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
        run_env = {**env, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
        for student in args.students.split(","):
            for folder in ("submission", "results"):
                shutil.rmtree(root / folder, ignore_errors=True)
            shutil.copytree(ROOT / "examples" / "submitted" / student / args.unit, root / "submission")
            (root / "results").mkdir()
            started = time.monotonic()
            subprocess.run([str(root / "run_autograder")], cwd=root, env=run_env, check=True, capture_output=True)
            wall = time.monotonic() - started
            data = json.loads((root / "results" / "results.json").read_text())
            print(f"{student}: {wall:.1f} s wall, score {data['score']:g}, execution_time {data['execution_time']} s, "
                  f"{len(data['tests'])} tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
