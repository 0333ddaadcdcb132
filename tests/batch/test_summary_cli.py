"""The end of `grader grade`: one line per student, what needs attention, and a CSV of this run's students."""
from __future__ import annotations

import json
import re
import shutil

import pytest
from batch_support import ROOT, grader, make_course

GOLDEN = ROOT / "tests" / "golden"
SOLUTION = "\n\n".join((ROOT / "solutions" / "unit1" / name).read_text(encoding="utf-8")
                       for name in ("shallow.py", "autoencoder.py"))
STARTER = ROOT / "exercises" / "unit1" / "shallow_networks.ipynb"


def _copy_with_softmax_solved() -> str:
    nb = json.loads(STARTER.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and source.startswith("def softmax("):
            cell["source"] = ("def softmax(z, dim=-1):\n    e = torch.exp(z - z.max(dim=dim, keepdim=True).values)\n"
                              "    return e / e.sum(dim=dim, keepdim=True)\n")
    return json.dumps(nb)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("summary")
    course = make_course(work / "course")
    (course / "exercises").symlink_to(ROOT / "exercises")
    sub = work / "submitted"
    folders = {name: sub / name / "unit1" for name in ("alice", "bob", "carol", "dave")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    shutil.copy(STARTER, folders["alice"] / "shallow_networks.ipynb")   # Jupyter's Duplicate
    (folders["alice"] / "shallow_networks-Copy1.ipynb").write_text(_copy_with_softmax_solved(), encoding="utf-8")
    (folders["bob"] / "a.py").write_text(SOLUTION, encoding="utf-8")
    (folders["bob"] / "b_hangs.py").write_text("while True:\n    pass\n", encoding="utf-8")
    (folders["carol"] / "work.py").write_text(SOLUTION, encoding="utf-8")
    (folders["carol"] / "old.ipynb").write_bytes(b"\xff\xfe not a notebook")
    (folders["dave"] / "work.py").write_text(SOLUTION, encoding="utf-8")
    gradebook, csv = work / "class.db", work / "grades.csv"
    proc = grader(course, "grade", "unit1", "--submissions", str(sub), "--gradebook", str(gradebook), "--public",
                  "--launcher", "local", "--workers", "2", "--csv", str(csv))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"proc": proc, "course": course, "sub": sub, "gradebook": gradebook, "csv": csv, "work": work}


def test_the_summary_has_a_line_per_student_and_what_needs_attention(graded, request):
    text = re.sub(r"\(\d+\.\d s\)", "(N s)", graded["proc"].stdout)
    path = GOLDEN / "grade_unit1_summary.txt"
    if request.config.getoption("--update-golden") or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    flat = " ".join(text.split())
    assert "alice: copies: shallow_networks.ipynb has the code of the released starter" in flat
    assert "bob: hung cell: b_hangs.py: not run: did not finish within" in flat
    assert "carol: unreadable file: old.ipynb is not UTF-8" in flat
    assert "dave" not in text.split("needs attention")[1]


def test_csv_lists_this_runs_students_unless_all(graded):
    assert [line.split(",")[0] for line in graded["csv"].read_text().splitlines()[1:]] == \
        ["alice", "bob", "carol", "dave"]
    one = graded["work"] / "one.csv"
    proc = grader(graded["course"], "grade", "unit1", "--submissions", str(graded["sub"]), "--gradebook",
                  str(graded["gradebook"]), "--public", "--launcher", "local", "--student", "dave", "--force",
                  "--csv", str(one))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [line.split(",")[0] for line in one.read_text().splitlines()[1:]] == ["dave"]
    proc = grader(graded["course"], "grade", "unit1", "--submissions", str(graded["sub"]), "--gradebook",
                  str(graded["gradebook"]), "--public", "--launcher", "local", "--student", "dave",
                  "--csv", str(one), "--all")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [line.split(",")[0] for line in one.read_text().splitlines()[1:]] == ["alice", "bob", "carol", "dave"]


def test_all_without_csv_is_a_usage_error(graded):
    proc = grader(graded["course"], "grade", "unit1", "--submissions", str(graded["sub"]), "--all")
    assert proc.returncode == 2 and proc.stderr.startswith("grader: error: --all says which students --csv lists")
