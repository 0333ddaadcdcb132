"""Neutralise IPython syntax so plain Python can run a notebook cell.

Shell escapes (`!ls`, `x = !ls`), line magics (`%time f()`), cell magics
(`%%bash`) and help (`torch.nn?`) never run: a shell line becomes `pass`,
`%time`/`%timeit` keep the statement they time, and other cell magics drop
the whole cell. Source that already compiles is left untouched.
"""
from __future__ import annotations

import re

_ASSIGN_SHELL = re.compile(r"^(\s*)([A-Za-z_][\w, ]*)=\s*[!%].*$")
_TIMED = re.compile(r"^(\s*)%(?:time|timeit|prun)\s+(?:-\S+\s+)*(.*)$")
_KEEP_BODY = {"time", "timeit", "capture", "prun"}


def strip_magics(source: str) -> str:
    """Return source with IPython-only lines replaced by harmless Python."""
    try:
        compile(source, "<cell>", "exec")
        return source
    except SyntaxError:
        pass
    lines = source.splitlines()
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        name = first[2:].split()[0] if first[2:].split() else ""
        if name not in _KEEP_BODY:
            return f"# cell magic %%{name} skipped by the grader\n"
        lines = lines[1:]
    return "\n".join(_line(line) for line in lines) + "\n"


def _line(line: str) -> str:
    stripped = line.strip()
    indent = line[: len(line) - len(line.lstrip())]
    timed = _TIMED.match(line)
    if timed:
        return f"{timed.group(1)}{timed.group(2)}"
    if stripped.startswith(("!", "%")):
        return f"{indent}pass  # IPython line skipped by the grader"
    assigned = _ASSIGN_SHELL.match(line)
    if assigned:
        return f"{assigned.group(1)}{assigned.group(2).strip()} = []  # shell output skipped"
    if stripped.endswith("?") and not stripped.startswith("#") and stripped.rstrip("?").replace(".", "").replace("_", "").isalnum():
        return f"{indent}pass  # help request skipped"
    return line
