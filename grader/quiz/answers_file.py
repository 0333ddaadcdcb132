"""Reading answers.toml within bounds, and writing it atomically.

The standard library reads TOML but cannot write it. Its reader is recursive (deeply
nested arrays raise RecursionError) and quadratic in the parts of a dotted key, and an
answers file is written by a student, so before `tomllib` sees the text it must pass
cheap checks: its size, the length of a line, the nesting of brackets, the dots in one
key and the length of any bare word. Whatever `tomllib` still raises becomes an `AnswersError`.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any, Mapping

from grader.quiz.model import AnswersError

MAX_ANSWERS_BYTES = 64 * 1024   # answers.toml, at most
MAX_NESTING = 8                 # levels of [ ] and { } (answers need 1; a table header 2)
MAX_KEY_DOTS = 16               # dots in one key (or value) between = , [ ] { } and line ends
MAX_BARE_CHARS = 256            # one bare key, number or word outside quotes
MAX_LINE_CHARS = 2048           # one line (formulas have at most 1,000 characters)

_TOML_HINT = ("each line should look like  question_id = answer ; "
              "text answers need double quotes, e.g. q3 = \"b\"")


def read_answers_file(path: str | Path) -> dict[str, Any]:
    """Read answers.toml (never through a link, at most MAX_ANSWERS_BYTES) and parse it within bounds."""
    from grader.notebook.collect import TooLarge, read_bounded

    path = Path(path)
    try:
        raw = read_bounded(path, MAX_ANSWERS_BYTES)
    except FileNotFoundError:
        raise AnswersError(f"no answers file at {path}",
                           "run `grader quiz UNIT` to answer the questions") from None
    except TooLarge:
        raise AnswersError(f"{path} is larger than {MAX_ANSWERS_BYTES // 1024} KiB; "
                           "an answers file holds one short line per question") from None
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
        raise AnswersError(f"cannot read {path}: {why}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswersError(f"cannot read {path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    return parse_answers_text(text, str(path))


def parse_answers_text(text: str, name: str = "answers.toml") -> dict[str, Any]:
    """TOML text -> dict, after `check_toml_bounds`; every failure is an `AnswersError`."""
    if len(text) > MAX_ANSWERS_BYTES:
        raise AnswersError(f"{name} is larger than {MAX_ANSWERS_BYTES // 1024} KiB")
    check_toml_bounds(text, name)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnswersError(f"{name} is not valid TOML: {exc}", _TOML_HINT) from None
    except Exception as exc:  # noqa: BLE001  (ValueError from int() limits, RecursionError, MemoryError...)
        raise AnswersError(f"{name} could not be read as TOML ({type(exc).__name__}: {str(exc)[:120]})",
                           _TOML_HINT) from None


def check_toml_bounds(text: str, name: str = "answers.toml") -> None:
    """Raise `AnswersError` when TOML text nests, dots or runs on further than any answers file needs.

    One linear pass that knows TOML's strings and comments, so brackets and dots inside
    quotes do not count.
    """
    longest = max(map(len, text.split("\n")))
    if longest > MAX_LINE_CHARS:
        raise AnswersError(f"{name} has a line of {longest:,} characters; at most {MAX_LINE_CHARS:,} are read",
                           _TOML_HINT)
    i, n, line = 0, len(text), 1
    depth = dots = bare = 0

    def fail(what: str) -> AnswersError:
        return AnswersError(f"{name} line {line}: {what}", _TOML_HINT)

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            dots = bare = 0
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            triple = text.startswith(c * 3, i)
            quote = c * 3 if triple else c
            j = i + len(quote)
            while j < n:
                if text[j] == "\\" and c == '"':
                    j += 2
                    continue
                if text.startswith(quote, j) or (not triple and text[j] == "\n"):
                    break
                j += 1
            line += text.count("\n", i, j) if triple else 0
            if text.startswith(quote, j):
                j += len(quote)
                for _ in range(2 if triple else 0):  # a multi-line string ends at the last of up to 5 quotes
                    j += j < n and text[j] == c
            i = j
            bare = 0
            continue
        elif c in "[{":
            depth += 1
            dots = bare = 0
            if depth > MAX_NESTING:
                raise fail(f"brackets are nested more than {MAX_NESTING} levels deep")
        elif c in "]}":
            depth -= 1
            dots = bare = 0
        elif c in "=,":
            dots = bare = 0
        elif c in " \t\r":
            bare = 0
        else:
            bare += 1
            if bare > MAX_BARE_CHARS:
                raise fail(f"a key or value outside quotes is longer than {MAX_BARE_CHARS} characters")
            if c == ".":
                dots += 1
                if dots > MAX_KEY_DOTS:
                    raise fail(f"a key has more than {MAX_KEY_DOTS} dots")
        i += 1


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
