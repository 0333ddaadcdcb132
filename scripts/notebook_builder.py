"""Write exercise notebooks from a simple list of ("md" | "code", text) cells.

Used by instructors to (re)build the starter notebooks in exercises/ from
readable Python scripts; plain JSON, no nbformat needed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def build(cells: list[tuple[str, str]], path: Path) -> None:
    """Write cells as an nbformat 4.5 notebook with stable cell ids."""
    out = []
    for index, (kind, text) in enumerate(cells):
        text = text.strip("\n") + "\n"
        lines = text.splitlines(keepends=True)
        lines[-1] = lines[-1].rstrip("\n")
        cell = {"cell_type": "markdown" if kind == "md" else "code", "id": f"cell-{index:02d}",
                "metadata": {}, "source": lines}
        if kind != "md":
            cell.update({"execution_count": None, "outputs": []})
        out.append(cell)
    nb = {"cells": out, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                      "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit("import this module from a notebook script")
