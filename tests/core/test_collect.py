import json

from grader.notebook.collect import collect
from grader.notebook.magics import strip_magics

from helpers import write_notebook


def test_collects_every_notebook_and_py_file_in_order(tmp_path):
    write_notebook(tmp_path / "Copy of losses (2).ipynb", ["a = 1", "b = 2"])
    (tmp_path / "helpers.py").write_text("c = 3\n")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    write_notebook(tmp_path / ".ipynb_checkpoints" / "old.ipynb", ["stale = 1"])
    (tmp_path / "notes.txt").write_text("not code")
    sub = collect(tmp_path)
    assert [c.origin for c in sub.cells] == ["Copy of losses (2).ipynb, cell 1", "Copy of losses (2).ipynb, cell 2",
                                             "helpers.py"]
    assert sub.problems == []


def test_markdown_cells_are_skipped_but_counted(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "source": "# title", "metadata": {}},
        {"cell_type": "code", "source": ["x = ", "1"], "metadata": {}, "outputs": []}]}
    (tmp_path / "n.ipynb").write_text(json.dumps(nb))
    sub = collect(tmp_path)
    assert [(c.origin, c.source) for c in sub.cells] == [("n.ipynb, cell 2", "x = 1")]


def test_symlinks_are_refused(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("secret = 1")
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "link.py").symlink_to(outside)
    sub = collect(folder)
    assert sub.cells == [] and sub.problems == ["link.py is a symbolic link; it was not followed"]


def test_unsupported_nbformat(tmp_path):
    (tmp_path / "n.ipynb").write_text(json.dumps({"nbformat": 2, "cells": []}))
    assert "nbformat 2 is not supported" in collect(tmp_path).problems[0]


def test_magics_become_harmless_python():
    source = "import os\n!rm -rf /\nfiles = !ls\n%time x = f(1)\n%matplotlib inline\ntorch.nn?\ny = 2"
    out = strip_magics(source)
    compile(out, "<cell>", "exec")
    assert "rm -rf" not in out and "x = f(1)" in out and "files = []" in out and "y = 2" in out
    assert strip_magics("%%bash\necho hi\n").startswith("# cell magic %%bash skipped")
    assert "x = 1" in strip_magics("%%time\nx = 1\n")
    assert strip_magics("a = '!not a shell line'\n") == "a = '!not a shell line'\n"
