"""One student's hostile or broken code fails only the checks it touches."""
import json
import os

from grader.api import check_unit
from grader.config import load_course

from helpers import ROOT, fast_course, write_notebook

REFERENCE = (ROOT / "solutions" / "unit1" / "shallow.py").read_text()


def _check(tmp_path, cells, exercises=None, **limits):
    course = load_course(fast_course(tmp_path, **limits))
    nb = write_notebook(tmp_path / "Copy of work (2).ipynb", cells)
    return check_unit("unit1", path=nb, course=course, exercises=exercises, device="cpu")


def test_hostile_notebook_fails_only_the_hostile_exercises(tmp_path):
    marker = tmp_path / "shell-ran"
    cells = [
        f"import torch\n!touch {marker}\n%matplotlib inline\nfiles = !ls\n",
        "name = input('your name? ')",
        "raise RuntimeError('boom in a cell')",
        "while True:\n    pass",
        REFERENCE,  # every function right ...
        # ... then overridden by hostile versions:
        "import os\ndef delta_rule_update(w, x, target, lr):\n    os._exit(3)",
        # (a crash without ctypes: importing ctypes would already fail the exercises that forbid shortcuts)
        "import faulthandler\ndef logistic_regression_step(w, b, X, y, lr):\n    faulthandler._sigsegv()",
        "class Liar(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
        "def softmax(z, dim=-1):\n    return Liar(torch.zeros_like(z))",
        "def softmax_cross_entropy(scores, y):\n    torch.allclose = lambda *a, **k: True\n"
        "    torch.equal = lambda *a, **k: True\n    print('All tests passed!' * 100)\n"
        "    return torch.zeros(()), torch.zeros_like(scores)",
        "class Boom(BaseException):\n    pass\n"
        "def multiclass_hinge_loss(scores, y, margin=1.0):\n    raise Boom('bye')",
    ]
    result = _check(tmp_path, cells)
    ex = result.exercises
    assert ex["perceptron_forward"].score == ex["perceptron_forward"].max_score
    for name in ("delta_rule_update", "logistic_regression_step", "softmax", "softmax_cross_entropy",
                 "multiclass_hinge_loss"):
        assert ex[name].score == 0, name
    assert not marker.exists(), "a shell escape ran"
    notes = "\n".join(result.notes)
    assert "cell 2: EOFError: input() is not available" in notes
    assert "cell 3: RuntimeError: boom in a cell" in notes
    assert "cell 4: not run: did not finish within 2 s" in notes
    assert "exited with code 3" in ex["delta_rule_update"].checks[0].message
    assert "segmentation fault" in ex["logistic_regression_step"].checks[0].message
    assert "not run: logistic_regression_step timed out or crashed on 2 earlier checks" in \
        ex["logistic_regression_step"].checks[-1].message
    assert "Liar (a subclass of torch.Tensor)" in ex["softmax"].checks[0].message
    assert "changes `torch.allclose` (Copy of work (2).ipynb, cell 9, line 2)" in ex["softmax_cross_entropy"].error
    assert "raised Boom: bye" in ex["multiclass_hinge_loss"].checks[0].message


def test_infinite_loop_in_a_function_times_out_that_check_only(tmp_path):
    cells = [REFERENCE, "_real = perceptron_forward\n"
             "def perceptron_forward(x, w, b, activation='sigmoid'):\n"
             "    if activation == 'relu' and x.dtype == torch.float32:\n"
             "        import signal\n        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
             "        while True:\n            pass\n"
             "    return _real(x, w, b, activation)"]
    result = _check(tmp_path, cells, ["perceptron_forward", "softmax"])
    checks = result.exercises["perceptron_forward"].checks
    failed = [c for c in checks if not c.passed]
    assert [c.name for c in failed] == ["relu, batch of 6, float32"]
    assert all("did not finish within 2 s" in c.message for c in failed)
    assert result.exercises["softmax"].passed


def test_missing_function_is_reported_as_missing(tmp_path):
    result = _check(tmp_path, ["import torch\ndef softmax(z, dim=-1):\n    return z"],
                    ["perceptron_forward", "softmax"])
    perceptron = result.exercises["perceptron_forward"]
    assert perceptron.error == "`perceptron_forward` is not defined in your notebooks or .py files"
    assert perceptron.score == 0


def test_memory_hog_fails_its_check(tmp_path):
    cells = [REFERENCE, "def delta_rule_update(w, x, target, lr):\n"
             "    hog = []\n    while True:\n        hog.append(bytearray(2**27))"]
    result = _check(tmp_path, cells, ["delta_rule_update", "softmax"], check_timeout=5.0, memory_mb=1024)
    assert result.exercises["delta_rule_update"].score == 0
    message = result.exercises["delta_rule_update"].checks[0].message
    assert "MemoryError" in message or "memory" in message
    assert result.exercises["softmax"].passed


def test_nbformat3_and_broken_notebooks(tmp_path):
    course = load_course(fast_course(tmp_path))
    folder = tmp_path / "sub"
    folder.mkdir()
    write_notebook(folder / "old.ipynb", [REFERENCE], nbformat=3)
    (folder / "broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "latin1.ipynb").write_bytes(b'{"cells": "\xe9"}')
    result = check_unit("unit1", path=folder, course=course, exercises=["softmax"], device="cpu")
    assert result.exercises["softmax"].passed
    notes = "\n".join(result.notes)
    assert "broken.ipynb is not a readable notebook: invalid JSON" in notes
    assert "latin1.ipynb is not UTF-8 text" in notes


def test_json_report_shape(tmp_path):
    result = _check(tmp_path, [REFERENCE], ["softmax"])
    data = json.loads(json.dumps(result.to_json()))
    assert data["unit"] == "unit1" and data["score"] == data["max_score"] == 2
    check = data["exercises"]["softmax"]["checks"][0]
    assert set(check) == {"name", "passed", "message"} and check["passed"] is True
    assert os.environ.get("GRADER_WORKER") is None


def test_a_notebook_can_import_a_py_file_of_the_submission(tmp_path):
    course = load_course(fast_course(tmp_path))
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "mylosses.py").write_text("import torch\n\ndef helper(z, dim):\n    raise ValueError('from the module')\n")
    write_notebook(folder / "work.ipynb", ["from mylosses import helper\n"
                                           "def softmax(z, dim=-1):\n    return helper(z, dim)"])
    result = check_unit("unit1", path=folder, course=course, exercises=["softmax"], device="cpu")
    message = result.exercises["softmax"].checks[0].message
    assert message == "raised ValueError: from the module (mylosses.py, line 4)"
    assert result.notes == []


def test_a_cell_writing_into_the_result_pipe_is_skipped(tmp_path):
    forge = ("import os, struct\n"
             "for fd in range(3, 10):\n"
             "    try:\n"
             "        os.write(fd, struct.pack('<II', 7, 0) + b'PASSED!')\n"
             "    except OSError:\n"
             "        pass\n")
    result = _check(tmp_path, [REFERENCE, forge], ["softmax"])
    assert result.exercises["softmax"].passed
    assert any("it wrote into the grader's result pipe" in note for note in result.notes), result.notes
