"""Which kernel cells a notebook check runs: the static name analysis of grader.notebook.needed."""
from grader.notebook.needed import cell_names, select_cells
from grader.notebook.warm import skipped_note

SOFTMAX = "def softmax(z, dim=-1):\n    e = (z - z.max(dim, keepdim=True).values).exp()\n    return e / e.sum(dim) * SCALE"


def kept(cells, entry=("softmax",)):
    selection = select_cells(cells, set(entry))
    return selection.kept, selection.skipped, selection.checks


def test_definitions_and_what_they_read_are_kept_transitively():
    cells = ["import torch\nimport numpy as np", SOFTMAX, "SCALE = scale_of(3)", "def scale_of(n):\n    return np.ones(n)",
             "e = 5\nz = 3"]                     # softmax's locals are not the notebook's e and z
    assert kept(cells) == ([0, 1, 2, 3], [4], [])


def test_training_plotting_and_printing_cells_are_skipped():
    cells = ["import torch", SOFTMAX, "SCALE = 1.0",
             "losses = []\nfor epoch in range(100):\n    losses.append(softmax(torch.ones(3)).sum().item())",
             "import matplotlib.pyplot as plt\nplt.plot(losses)\nplt.show()", "print(softmax(torch.ones(3)))"]
    assert kept(cells) == ([1, 2], [0, 3, 4, 5], [])


def test_a_cell_that_changes_a_needed_name_is_kept():
    cells = ["def predict(x):\n    return W @ x", "W = torch.zeros(3)", "W[0] = 1.0", "W.add_(1)", "W2 = W * 2",
             "for step in range(3):\n    model.weight.data -= 0.1", "import torch"]
    assert kept(cells, ["predict"]) == ([0, 1, 2, 3, 6], [4, 5], [])


def test_cells_whose_effect_no_reading_can_see_are_always_kept():
    cells = ["exec('softmax = None')", "from helpers import *", "globals()['x'] = 1", "def broken(:\n", "x = 1"]
    assert kept(cells) == ([0, 1, 2, 3], [4], [])


def test_check_cells_are_dropped_silently():
    cells = [SOFTMAX, "from grader import check\ncheck('softmax')", "report = check('softmax')\nreport",
             "check('softmax'); x = 1"]
    assert kept(cells) == ([0], [3], [1, 2])


def test_magics_and_globals_set_in_functions():
    assert cell_names("%matplotlib inline\nimport torch").defines == {"torch"}
    assert "SCALE" in cell_names("def setup():\n    global SCALE\n    SCALE = 2").defines
    assert cell_names("if True:\n    import torch.nn as nn\n    class Net(nn.Module):\n        pass").defines == {
        "nn", "Net"}


def test_the_note_names_the_skipped_cells():
    assert skipped_note([]) is None
    assert skipped_note(["kernel input [4]"]) == "skipped 1 cell that defines nothing checked: In [4]"
    assert skipped_note([f"kernel input [{i}]" for i in range(1, 14)]) == (
        "skipped 13 cells that define nothing checked: In [1], In [2], In [3], In [4], In [5], In [6], In [7], "
        "In [8], In [9], In [10] and 3 more")
