"""Notebooks read and written with nbformat, outside the hot path of `grader check`.

The release, the nbgrader export and the notebook builder use these: nbformat upgrades
an nbformat 3 notebook to 4, every notebook is validated against its schema before it is
written, and each cell has an id (nbformat 4.5). `grader check` keeps its own bounded reader
(`collect.read_notebook`); a test keeps both readers in agreement.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import GraderError

MINOR = 5   # nbformat 4.5: cells have ids


def reads(text: str) -> Any:
    """A notebook as an nbformat 4.5 NotebookNode: v3 upgraded, missing cell ids added (cell-00, cell-01...)."""
    import nbformat

    nb = nbformat.reader.reads(text)   # not validated yet: a cell without its id is mended first
    old = (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) < (4, MINOR)
    nb = nbformat.convert(nb, 4)
    if old:   # ids an upgrade drew at random: stable ones instead, so a rewrite gives the same file
        for cell in nb.cells:
            cell.pop("id", None)
    return with_cell_ids(nb)


def read(path: Path) -> Any:
    """`reads` of a file, with its path in the error for one nbformat cannot read."""
    try:
        return reads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, KeyError, TypeError) as exc:
        raise GraderError(f"{path} is not a readable notebook: {exc}", "save it again from Jupyter") from None


def with_cell_ids(nb: Any) -> Any:
    """Give every cell a unique id, keeping the ids it has (a duplicate gets a new one)."""
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if not isinstance(cid, str) or not cid or cid in seen:
            cid = _free_id(f"cell-{index:02d}", seen)
            cell["id"] = cid
        seen.add(cid)
    nb.nbformat, nb.nbformat_minor = 4, max(MINOR, nb.get("nbformat_minor", 0))
    return nb


def _free_id(base: str, seen: set[str]) -> str:
    candidate, n = base, 1
    while candidate in seen:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def writes(nb: Any) -> str:
    """The notebook as nbformat's JSON text, after validating it (nbformat.ValidationError when invalid)."""
    import nbformat

    nbformat.validate(nb)
    return nbformat.writes(nb)


def write(nb: Any, path: Path) -> None:
    """Validate and write a notebook (creating its folder)."""
    text = writes(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
