"""Decide in the trusted process, from the student's source, whether an exercise uses a forbidden shortcut.

    program = analyse(submission.cells)                     # once per student
    findings = find_shortcuts(program, exercise.entry, exercise.forbidden)
    message = shortcut_message(findings, exercise.forbidden_hint)

Forbidden names count in the code an exercise's entry names reach; constructs
the scan cannot follow (exec, computed getattr, torch._C, patching torch...)
count wherever code can run. See families.py for what each family covers.

The worker's run-time watch needs only families.py, so the parser and the
scan are imported when first used (keeping a worker's start-up short).
"""
from __future__ import annotations

from typing import Any

from .families import FAMILIES, Family, families, forbids

__all__ = ["FAMILIES", "Family", "Finding", "Program", "analyse", "families", "find_shortcuts", "forbids",
           "shortcut_message"]
_LAZY = {"Finding": "scan", "analyse": "scan", "find_shortcuts": "scan", "shortcut_message": "scan",
         "Program": "program"}


def __getattr__(name: str) -> Any:
    """The scan's names, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
