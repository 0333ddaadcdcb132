"""Auto-grading for a deep-learning course. In a notebook: `from grader import check; check("softmax")`."""
from __future__ import annotations

__version__ = "0.1.0"


def check(*exercises: str, unit: str | None = None, path: str | None = None, device: str = "auto",
          hidden: bool = False):  # noqa: ANN201
    """Check exercises from a notebook; shows a table in Jupyter, text elsewhere.

    hidden=True runs the hidden checks that decide the grade instead of the public ones: only in the
    instructor's course, with its secret (an nbgrader autograder-tests cell, docs/interop.md).
    """
    from .notebook.inline import check_from_notebook

    return check_from_notebook(exercises, unit=unit, path=path, device=device, hidden=hidden)
