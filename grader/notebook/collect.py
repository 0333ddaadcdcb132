"""Collect a student's code from every notebook and .py file in a folder.

Notebooks are read as JSON (nbformat 3 and 4) without importing nbformat,
which is slow to import. The result is an ordered list of code cells; each
remembers where it came from so feedback can name it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .magics import strip_magics

MAX_FILE_BYTES = 64 * 1024 * 1024
SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", ".git", ".grader"}


@dataclass(frozen=True)
class Cell:
    source: str
    origin: str  # e.g. "losses.ipynb, cell 3"


@dataclass
class Submission:
    cells: list[Cell] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def collect(path: Path) -> Submission:
    """Read a notebook, a .py file, or every such file below a folder."""
    sub = Submission()
    if path.is_symlink():
        sub.problems.append(f"{path.name} is a symbolic link; it was not followed")
        return sub
    if path.is_dir():
        for file in _code_files(path, sub):
            _add_file(file, file.relative_to(path).as_posix(), sub)
    elif path.is_file():
        _add_file(path, path.name, sub)
    else:
        sub.problems.append(f"{path} does not exist")
    return sub


def _code_files(folder: Path, sub: Submission) -> list[Path]:
    found = []
    for item in sorted(folder.rglob("*")):
        rel = item.relative_to(folder)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if item.suffix not in (".ipynb", ".py"):
            continue
        if item.is_symlink() or any(p.is_symlink() for p in _parents_within(item, folder)):
            sub.problems.append(f"{rel.as_posix()} is a symbolic link; it was not followed")
            continue
        if item.is_file():
            found.append(item)
    return found


def _parents_within(item: Path, folder: Path) -> list[Path]:
    parents = []
    for parent in item.parents:
        if parent == folder:
            break
        parents.append(parent)
    return parents


def _add_file(file: Path, name: str, sub: Submission) -> None:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            sub.problems.append(f"{name} is {size // 2**20} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit; skipped")
            return
        raw = file.read_bytes()
    except OSError as exc:
        sub.problems.append(f"{name} could not be read: {exc.strerror}")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        sub.problems.append(f"{name} is not UTF-8 text (bad byte at offset {exc.start}); skipped")
        return
    if file.suffix == ".py":
        sub.cells.append(Cell(text, name))
        sub.files.append(name)
        return
    try:
        sources = notebook_sources(text)
    except ValueError as exc:
        sub.problems.append(f"{name} is not a readable notebook: {exc}; skipped")
        return
    sub.files.append(name)
    for index, source in sources:
        sub.cells.append(Cell(strip_magics(source), f"{name}, cell {index}"))


def notebook_sources(text: str) -> list[tuple[int, str]]:
    """Return (1-based cell number, source) for every code cell of a notebook."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(nb, dict):
        raise ValueError("the top level is not a JSON object")
    major = nb.get("nbformat", 4)
    if major == 3:
        cells = [c for ws in nb.get("worksheets") or [] if isinstance(ws, dict) for c in ws.get("cells") or []]
        key = "input"
    elif major == 4:
        cells, key = nb.get("cells"), "source"
    else:
        raise ValueError(f"nbformat {major!r} is not supported (3 and 4 are)")
    if not isinstance(cells, list):
        raise ValueError("it has no list of cells")
    result = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get(key, "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str) and source.strip():
            result.append((number, source))
    return result
