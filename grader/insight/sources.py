"""A student's own definition of an exercise, read from the submissions folder for the report's examples.

Only read and parsed (ast), never run; bounded by the notebook reader's limits.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from ..report.safe import clip

MAX_SOURCE_CHARS = 4000


class Sources:
    """`sources(student, exercise)`: the last top-level definition of the exercise's entry names, or None."""

    def __init__(self, course: Any, unit_id: str, submissions: Path) -> None:
        from ..notebook.warm import entries_as_text   # the entry names, read as text from checks.py

        self.unit_id, self.submissions = unit_id, submissions
        self.entries = entries_as_text(course, unit_id) or {}

    def __call__(self, student: str, exercise: str) -> str | None:
        from ..notebook.collect import collect

        folder = self.submissions / student / self.unit_id
        if Path(student).name != student or not folder.is_dir() or folder.is_symlink():
            return None
        names = self.entries.get(exercise) or {exercise}
        found = None
        for cell in collect(folder).cells:
            try:
                tree = ast.parse(cell.source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
                    found = f"# {cell.origin}\n" + (ast.get_source_segment(cell.source, node) or "")
        return clip(found, MAX_SOURCE_CHARS) if found else None
