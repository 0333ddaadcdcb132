"""Imports in a student's cells: a module missing from the grading environment costs only what uses it."""
import pytest

from helpers import ROOT, check_path, write_notebook

SOFTMAX = '''
def softmax(z, dim=-1):
    e = torch.exp(z - z.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)
'''


def test_a_missing_module_in_the_first_cell_does_not_leave_torch_undefined(tmp_path):
    notebook = write_notebook(tmp_path / "work.ipynb", [
        "import no_such_plotting_lib.pyplot as plt\nimport torch\nfrom also_missing import thing\nimport math",
        SOFTMAX,
    ])
    result = check_path("unit1", notebook, ["softmax"])
    assert result.exercises["softmax"].passed, result.exercises["softmax"].checks[0].message
    assert result.notes == [
        "work.ipynb, cell 1: ModuleNotFoundError: modules 'no_such_plotting_lib', 'also_missing' are not "
        "installed where your work is graded (work.ipynb, cell 1, line 1); the lines importing them were skipped"]


def test_plots_draw_off_screen_and_show_is_harmless(tmp_path):
    pytest.importorskip("matplotlib")
    notebook = write_notebook(tmp_path / "work.ipynb", [
        "import matplotlib\nimport matplotlib.pyplot as plt\nimport torch\nimport tqdm\nimport pandas as pd",
        "backend = matplotlib.get_backend()\nassert backend.lower() == 'agg', backend\n"
        "plt.plot([1, 2, 3])\nplt.show()\nfor _ in tqdm.tqdm(range(3)):\n    pass",
        SOFTMAX,
    ])
    result = check_path("unit1", notebook, ["softmax"])
    assert result.notes == []
    assert result.exercises["softmax"].passed


def test_an_error_after_a_missing_module_is_still_reported(tmp_path):
    source = "import no_such_module\nimport torch\nx = 1 / 0\n" + SOFTMAX
    (tmp_path / "work.py").write_text(source)
    result = check_path("unit1", tmp_path, ["softmax"])
    assert result.notes == ["work.py: ModuleNotFoundError: module 'no_such_module' is not installed where your "
                            "work is graded (work.py, line 1); then ZeroDivisionError: division by zero "
                            "(work.py, line 3)"]
    assert "is not defined: work.py, which defines it, failed to run" in result.exercises["softmax"].error


def test_the_course_lists_its_extra_packages(tmp_path):
    from grader.environment import course_packages, missing_packages

    (tmp_path / "course.toml").write_text('[environment]\npackages = ["numpy>=1.0", "no-such-dist [x]", "tqdm"]\n')
    assert course_packages(tmp_path) == ["numpy>=1.0", "no-such-dist [x]", "tqdm"]
    assert missing_packages(course_packages(tmp_path)) == ["no-such-dist"]
    assert course_packages(ROOT) == [p for p in course_packages(ROOT) if isinstance(p, str)]
