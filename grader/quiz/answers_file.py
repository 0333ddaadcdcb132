"""Writing answers.toml atomically (the standard library reads TOML but cannot write it)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from grader.quiz.model import AnswersError


def toml_value(value: Any) -> str:
    """Format one answer (text, number, or list of those) as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AnswersError(f"cannot store {value!r} as an answer")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise AnswersError(f"cannot store a {type(value).__name__} as an answer")


def dump_answers(answers: Mapping[str, Any], header: str = "") -> str:
    """The text of an answers.toml: an optional comment header, then ``id = value`` lines."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for key, value in answers.items():
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def write_answers(path: str | Path, answers: Mapping[str, Any], header: str = "") -> None:
    """Write answers.toml atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dump_answers(answers, header)
    fd, tmp = tempfile.mkstemp(prefix=".answers-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
