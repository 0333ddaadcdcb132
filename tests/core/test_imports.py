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


def test_check_names_the_courses_missing_packages(tmp_path):
    import subprocess
    import sys

    course = tmp_path / "course"
    course.mkdir()
    text = (ROOT / "course.toml").read_text(encoding="utf-8").replace(
        "packages = []", 'packages = ["tqdm>=4", "no-such-dist-for-grading"]', 1)
    assert "no-such-dist-for-grading" in text
    (course / "course.toml").write_text(text, encoding="utf-8")
    (course / "solutions").symlink_to(ROOT / "solutions")
    (tmp_path / "work.py").write_text("import torch\n" + SOFTMAX)
    run = subprocess.run([sys.executable, "-m", "grader", "--course", str(course), "check", "unit1", "softmax",
                          "--path", str(tmp_path / "work.py"), "--device", "cpu", "--json"],
                         capture_output=True, text=True, timeout=300)
    data = __import__("json").loads(run.stdout)
    assert run.returncode == 0, run.stderr
    assert data["notes"] == ["course.toml lists packages that are not installed where this work is graded: "
                             "no-such-dist-for-grading (the instructor's scripts/setup.sh installs them; elsewhere: "
                             "pip install no-such-dist-for-grading)"]
