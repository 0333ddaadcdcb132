"""Build a small class of Unit 1 submissions from the reference solution and its known mistakes.

    python examples/make_examples.py            # rewrites examples/submitted/
    grader grade unit1 --submissions examples/submitted --gradebook examples/gradebook.db

The same building blocks (`variant_cells`, `write_notebook`, VARIANTS) make the
bench's 200 students and the batch tests' classes. Everything is derived from
solutions/unit1, so the examples follow the reference when it changes.
"""
from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "unit1" / "shallow.py"
AUTOENCODER = ROOT / "solutions" / "unit1" / "autoencoder.py"
MISTAKES = ROOT / "solutions" / "unit1" / "mistakes.py"
FUNCTIONS = ("perceptron_forward", "delta_rule_update", "logistic_regression_step", "softmax",
             "softmax_cross_entropy", "multiclass_hinge_loss", "least_squares", "squared_hinge_loss",
             "Autoencoder", "reconstruction_scores")


def _segments(path: Path) -> dict[str, str]:
    """Top-level name -> its source text, for every def / assignment in a file."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    out = {}
    for node in ast.parse(text).body:
        name = getattr(node, "name", None) or (isinstance(node, ast.Assign) and node.targets[0].id) or None
        if name:
            out[name] = "".join(lines[node.lineno - 1:node.end_lineno])
    return out


def reference_cells() -> dict[str, str]:
    """One cell per exercise (plus 'imports'), from the reference solution."""
    ref = {**_segments(SOLUTION), **_segments(AUTOENCODER)}
    cells = {"imports": "import torch\nfrom torch import nn\n"}
    cells["perceptron_forward"] = ref["step"] + "\n\n" + ref["ACTIVATIONS"] + "\n\n" + ref["perceptron_forward"]
    for name in FUNCTIONS[1:]:
        cells[name] = ref[name]
    return cells


def mistake(target: str, name: str, helpers: tuple[str, ...] = ()) -> str:
    """A known mistake from mistakes.py, renamed to the function students must write."""
    found = _segments(MISTAKES)
    body = found[name].replace(f"def {name}(", f"def {target}(", 1)
    prefix = "".join(found[h] + "\n\n" for h in helpers)
    if target == "perceptron_forward":
        ref = _segments(SOLUTION)
        prefix = ref["step"] + "\n\n" + ref["ACTIVATIONS"] + "\n\n" + prefix
    return prefix + body


STUB = "def {name}(*args, **kwargs):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"

# variant -> {exercise or extra cell key: replacement source}; extra keys are added as further cells.
VARIANTS: dict[str, dict[str, str]] = {
    "correct": {},
    "softmax_no_max": {"softmax": mistake("softmax", "softmax_no_max")},
    "softmax_first_axis": {"softmax": mistake("softmax", "softmax_first_axis")},
    "hinge_includes_correct": {"multiclass_hinge_loss": mistake("multiclass_hinge_loss", "hinge_includes_correct",
                                                                ("_hinge_parts",))},
    "perceptron_no_activation": {"perceptron_forward": mistake("perceptron_forward", "perceptron_no_activation")},
    "delta_rule_sign": {"delta_rule_update": mistake("delta_rule_update", "delta_rule_sign")},
    "ce_no_max": {"softmax_cross_entropy": mistake("softmax_cross_entropy", "ce_no_max")},
    "logistic_ascent": {"logistic_regression_step": mistake("logistic_regression_step", "logistic_ascent",
                                                            ("_bce",))},
    "blank": {name: STUB.format(name=name) for name in FUNCTIONS},
    "runtime_error": {"perceptron_forward": "def perceptron_forward(x, w, b, activation='sigmoid'):\n"
                                           "    return torch.sigmoid(w @ x.T.T.T + b) if x.dim() == 1 else w @ x\n"},
    "syntax_error": {"softmax": "def softmax(z, dim=-1)\n    return z.exp() / z.exp().sum(dim, keepdim=True)\n"},
    # hostile: each must score what its honest parts deserve, never more
    "monkeypatch_torch": {
        "softmax": "def softmax(z, dim=-1):\n    return torch.zeros_like(z)\n",
        "patch": "import numpy\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
                 "torch.Tensor.__eq__ = lambda *a, **k: True\nnumpy.allclose = lambda *a, **k: True\n"
                 "import builtins\nbuiltins.isinstance = lambda *a: True\n"},
    "fake_passed": {
        "multiclass_hinge_loss": "def multiclass_hinge_loss(scores, y, margin=1.0):\n"
                                 "    print('PASSED multiclass_hinge_loss 3/3')\n"
                                 "    print('\\x1b[1;32m==== 42 passed in 0.01s ====\\x1b[0m')\n"
                                 "    return scores.sum() * 0, scores * 0\n",
        "banner": "print('unit1: 13 / 13 points'); print('PASS softmax  2/2  (8/8 checks)')\n"},
    "os_exit": {"softmax_cross_entropy": "import os\ndef softmax_cross_entropy(scores, y):\n    os._exit(0)\n"},
    "read_solutions": {
        **{name: STUB.format(name=name) for name in FUNCTIONS},
        "steal": f"try:\n    exec(open({str(SOLUTION)!r}).read())\nexcept Exception as exc:\n"
                 "    print('could not read the solutions:', exc)\n"},
    "lying_tensor": {"softmax": "class Liar(torch.Tensor):\n"
                                "    def __eq__(self, other): return True\n"
                                "    def allclose(self, *a, **k): return True\n"
                                "def softmax(z, dim=-1):\n    return torch.zeros_like(z).as_subclass(Liar)\n"},
}


def variant_cells(variant: str) -> list[str]:
    """The code cells of a notebook for this variant, in order."""
    cells = reference_cells()
    extra = []
    for key, source in VARIANTS[variant].items():
        if key in cells:
            cells[key] = source
        else:
            extra.append(source)
    return list(cells.values()) + extra


def notebook_json(cells: list[str]) -> str:
    """An nbformat 4.5 notebook with a markdown title and these code cells (stable output)."""
    nb_cells = [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# Unit 1: shallow networks"]}]
    for index, source in enumerate(cells):
        lines = source.splitlines(keepends=True)
        nb_cells.append({"cell_type": "code", "execution_count": None, "id": f"cell-{index:02d}", "metadata": {},
                         "outputs": [], "source": lines})
    nb = {"cells": nb_cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                         "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1) + "\n"


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write cells as a notebook at path (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_json(cells), encoding="utf-8")
    return path


def write_student(root: Path, student: str, variant: str, unit: str = "unit1") -> Path:
    """root/<student>/<unit>/unit1.ipynb for a variant."""
    return write_notebook(root / student / unit / "unit1.ipynb", variant_cells(variant))


# The bundled class: who is who, and what each should score (out of 13).
CLASS = {
    "ada": "correct",
    "ben": "softmax_no_max",
    "chen": "hinge_includes_correct",
    "dana": "perceptron_no_activation",
    "eli": "blank",
    "fay": "syntax_error",
    "gus": "monkeypatch_torch",
    "hana": "fake_passed",
    "ivo": "read_solutions",
}


def main(argv: list[str]) -> int:
    """Rewrite examples/submitted/ (or the folder given)."""
    dest = Path(argv[0]) if argv else Path(__file__).resolve().parent / "submitted"
    if dest.exists():
        shutil.rmtree(dest)
    for student, variant in CLASS.items():
        write_student(dest, student, variant)
    # a student who handed in a .py file beside an empty notebook folder
    (dest / "jo" / "unit1").mkdir(parents=True)
    (dest / "jo" / "unit1" / "shallow.py").write_text("\n\n".join(reference_cells().values()), encoding="utf-8")
    print(f"wrote {len(CLASS) + 1} students to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
