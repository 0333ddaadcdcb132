"""Copies of a notebook: Jupyter's "Duplicate" leaves the untouched starter beside the student's work."""
import json

import pytest
from test_cli import assert_golden, grader

from grader.notebook.collect import Cell, Submission, settle_copies, starter_code
from grader.release.build import stamp_notebook
from helpers import ROOT

STARTER = ROOT / "exercises" / "unit1" / "shallow_networks.ipynb"
SOLVED = {
    "def perceptron_forward(": '''def perceptron_forward(x, w, b, activation="sigmoid"):
    z = x @ w + b
    if activation == "sigmoid":
        return torch.sigmoid(z)
    if activation == "tanh":
        return torch.tanh(z)
    if activation == "relu":
        return torch.clamp(z, min=0)
    if activation == "step":
        return (z > 0).to(z.dtype)
    raise ValueError(f"unknown activation {activation!r}")
''',
    "def softmax(": '''def softmax(z, dim=-1):
    e = torch.exp(z - z.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)
''',
}


def _copy_of_starter(folder, *, touch_starter=False):
    """The released (stamped) starter, and the copy Jupyter's Duplicate made, with two exercises solved."""
    text = stamp_notebook(STARTER.read_text(encoding="utf-8"), "2026.1", "unit1")
    nb = json.loads(text)
    if touch_starter:   # the student also ran or changed something in the starter
        nb["cells"].append({"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [],
                            "execution_count": None})
    (folder / "shallow_networks.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    copy = json.loads(text)
    for cell in copy["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for start, solved in SOLVED.items():
            if cell["cell_type"] == "code" and source.startswith(start):
                cell["source"] = solved
        cell["outputs"] = [] if cell["cell_type"] == "code" else cell.get("outputs")
    copy["metadata"].pop("dl_grader", None)   # the copy of a notebook saved by another Jupyter
    (folder / "shallow_networks-Copy1.ipynb").write_text(json.dumps(copy), encoding="utf-8")
    return folder


def test_the_untouched_starter_is_left_out_and_the_copy_graded(tmp_path, request):
    folder = _copy_of_starter(tmp_path)
    run = grader("check", "unit1", "--path", str(folder), "--device", "cpu", "--student", "s001")
    assert run.returncode == 1, run.stderr
    graded, quiz = run.stdout.split("OPEN quiz (practice)")   # the quiz's line names this test's tmp folder
    assert_golden("check_unit1_copy_of_starter.txt", graded, request)
    assert "no answers yet" in quiz
    assert "unit1: 4 / 20 points" in run.stdout


def test_a_changed_starter_still_loses_to_the_copys_solutions(tmp_path):
    folder = _copy_of_starter(tmp_path, touch_starter=True)
    run = grader("check", "unit1", "perceptron_forward", "softmax", "delta_rule_update", "--path", str(folder),
                 "--device", "cpu", "--json")
    data = json.loads(run.stdout)
    exercises = data["exercises"]
    assert exercises["perceptron_forward"]["score"] == 2 and exercises["softmax"]["score"] == 2
    assert exercises["perceptron_forward"]["graded_from"] == "shallow_networks-Copy1.ipynb"
    assert exercises["delta_rule_update"]["score"] == 0   # a stub in both: the last one
    assert exercises["delta_rule_update"]["graded_from"] == "shallow_networks.ipynb"
    assert ("`softmax` is defined in shallow_networks-Copy1.ipynb and shallow_networks.ipynb; the one in "
            "shallow_networks-Copy1.ipynb was graded (in shallow_networks.ipynb it is the unfinished stub)") \
        in data["notes"]


def test_the_starters_own_folder_is_never_compared_with_itself(tmp_path):
    """In a release the starters are the student's working files: one edited in place is graded as it is."""
    starters = starter_code(STARTER.parent)
    cells = [Cell(src, f"shallow_networks.ipynb, cell {i}") for i, src in enumerate(starters["shallow_networks.ipynb"])]
    sub = settle_copies(Submission(cells=list(cells), files=["shallow_networks.ipynb"]), starters,
                        {"shallow_networks.ipynb"})
    assert sub.cells == cells and sub.problems == []


@pytest.mark.parametrize("body,stub", [
    ('    """doc."""\n    raise NotImplementedError("write f")', True),
    ("    pass", True),
    ("    ...", True),
    ("    return 1", False),
    ("    if x:\n        return 1\n    raise NotImplementedError", True),
    ("    raise ValueError('no')", False),
])
def test_what_counts_as_an_unfinished_stub(body, stub):
    sub = Submission(cells=[Cell("def f(x):\n    return 2\n", "a.py"), Cell(f"def f(x):\n{body}\n", "b.py")],
                     files=["a.py", "b.py"])
    settle_copies(sub)
    assert sub.graded_from["f"] == ("a.py" if stub else "b.py")
    assert ("def f" in sub.cells[1].source) is not stub   # a stub after the graded definition is blanked
    assert sub.cells[1].source.count("\n") == f"def f(x):\n{body}\n".count("\n")   # line numbers kept
