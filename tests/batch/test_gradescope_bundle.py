"""The Gradescope autograder bundle: built by `grader export-gradescope`, unpacked into a root laid out as
Gradescope's container is (AUTOGRADER_ROOT), run by its own run_autograder in the sandbox, and its
results.json checked against Gradescope's specification for a reference, a mistaken and a broken submission."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from batch_support import BATCH_SECRET, ROOT, grader, make_course

SUBMITTED = ROOT / "examples" / "submitted"

# https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format")
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def validate_results(data: dict) -> None:
    """results.json as Gradescope's specification describes it (the fields we write, and only known ones)."""
    assert isinstance(data, dict) and set(data) <= TOP_KEYS, set(data) - TOP_KEYS
    assert isinstance(data["score"], (int, float)) and data["score"] >= 0   # required: no per-test sum is meant
    assert isinstance(data["execution_time"], int) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data.get("stdout_visibility") in VISIBILITY
    assert isinstance(data["tests"], list) and data["tests"]
    for test in data["tests"]:
        assert set(test) <= TEST_KEYS and {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert isinstance(test["name"], str) and test["name"]
        assert all(isinstance(test[k], (int, float)) and not isinstance(test[k], bool) for k in ("score", "max_score"))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] in VISIBILITY and test.get("status", "passed") in ("passed", "failed")
        assert isinstance(test["output"], str)
    assert round(sum(t["score"] for t in data["tests"]), 4) == data["score"]


def _unzip(bundle: Path, source: Path) -> None:
    """Unpack as `unzip` does, with the modes the zip records."""
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = source / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            os.chmod(target, (info.external_attr >> 16) & 0o777)


def _run(root: Path, files: dict[str, bytes]) -> tuple[subprocess.CompletedProcess, dict]:
    """Gradescope's harness: a fresh submission/ and results/, then /autograder/run_autograder."""
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    for name, data in files.items():
        (root / "submission" / name).write_bytes(data)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    env.pop("GRADER_COURSE", None)
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((root / "results" / "results.json").read_text())
    validate_results(data)
    return proc, data


def test_bundle_grades_in_a_simulated_container(tmp_path):
    course = make_course(tmp_path / "course")
    bundle = tmp_path / "autograder.zip"
    made = grader(course, "export-gradescope", "unit1", str(bundle))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        contents = b"".join(archive.read(n) for n in names)
        assert archive.read("course/.grader-secret").strip() != BATCH_SECRET.encode()
        toml = archive.read("course/course.toml").decode()
    wheel = next(n for n in names if n.startswith("wheels/"))
    assert names == {"setup.sh", "run_autograder", "scripts/setup-sandbox.sh", wheel, "course/course.toml",
                     "course/.grader-secret", *(f"course/solutions/unit1/{f}" for f in
                                                ("autoencoder.py", "checks.py", "mistakes.py", "shallow.py"))}
    assert BATCH_SECRET.encode() not in contents          # the course secret stays here
    assert 'id = "unit1"' in toml and 'id = "unit2"' not in toml and "[grading]" not in toml
    again = grader(course, "export-gradescope", "unit1", str(bundle))
    assert again.returncode == 2 and "exists" in again.stderr

    root = tmp_path / "autograder"   # /autograder: source/ is the unpacked zip, run_autograder copied beside it
    _unzip(bundle, root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    assert os.access(root / "run_autograder", os.X_OK)
    for script in ("setup.sh", "run_autograder"):   # both parse as bash (setup.sh itself runs only on Gradescope)
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    with zipfile.ZipFile(root / "source" / wheel) as built:   # the wheel holds what run_autograder runs
        assert {"grader/gradescope/run.py", "grader/late.py", "grader/runner/sandbox/__init__.py"} <= set(built.namelist())

    proc, reference = _run(root, {"unit1.ipynb": (SUBMITTED / "ada" / "unit1" / "unit1.ipynb").read_bytes()})
    assert reference["score"] == 20
    assert "sandbox:" in proc.stdout   # the instructor's stdout says which sandbox graded
    graded = [t for t in reference["tests"] if not t["name"].endswith(": public checks")]
    public = [t for t in reference["tests"] if t["name"].endswith(": public checks")]
    assert len(graded) == len(public) == 10
    assert {t["visibility"] for t in graded} == {"after_published"} and {t["visibility"] for t in public} == {"visible"}
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in graded)
    assert {t["max_score"] for t in public} == {0}

    _, mistaken = _run(root, {"hw.ipynb": (SUBMITTED / "ben" / "unit1" / "unit1.ipynb").read_bytes()})
    assert 0 < mistaken["score"] < 20
    softmax = next(t for t in mistaken["tests"] if t["name"] == "softmax")
    assert softmax["status"] == "failed" and softmax["score"] < softmax["max_score"]
    assert "hint: subtract the max along dim before exp" in softmax["output"]
    assert "expected" not in softmax["output"].replace("was expected", "")   # hidden: no expected value shown

    _, broken = _run(root, {"unit1.ipynb": b"{not json"})
    assert broken["score"] == 0 and "Not graded: unit1.ipynb is not a readable notebook" in broken["output"]
    assert all(t["score"] == 0 and "not a readable notebook" in t["output"] for t in broken["tests"])
