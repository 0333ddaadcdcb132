"""Write exercise notebooks from readable Python: a list of (kind, text) cells.

Instructors keep each unit's notebook as a script in scripts/notebooks/ and
rebuild the .ipynb from it; the output is nbformat 4.5 JSON with stable cell
ids, validated with nbformat before it is returned, so rebuilding an unchanged
script gives a byte-identical file.
"""
from __future__ import annotations

import json

KINDS = {"md": "markdown", "markdown": "markdown", "code": "code"}


def build_notebook(cells: list[tuple[str, str]]) -> str:
    """Markdown and code cells as nbformat 4.5 JSON text (nbformat.ValidationError for an invalid one)."""
    import nbformat

    out = []
    for index, (kind, text) in enumerate(cells):
        if kind not in KINDS:
            raise ValueError(f"cell {index}: unknown kind {kind!r} (use 'markdown' or 'code')")
        cell = {"cell_type": KINDS[kind], "id": f"cell-{index:02d}", "metadata": {},
                "source": text.strip("\n").splitlines(keepends=True)}
        if cell["cell_type"] == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": out,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                             "language_info": {"name": "python"}}}
    nbformat.validate(nbformat.from_dict(notebook))   # the schema of 4.5, cell ids included
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
