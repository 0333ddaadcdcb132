"""Text from a submission made safe to show: no terminal control, bounded size and count.

File names, folder names, cell errors and answers are chosen by students. Before the
trusted side prints or stores them, control characters (C0, C1, DEL), Unicode direction
overrides, line separators and lone surrogates (undecodable bytes in a file name) are
written as escapes such as ``\\x1b``, so nothing a student writes can move the cursor,
recolour or rewrite an instructor's terminal, or fail to encode.
"""
from __future__ import annotations

import re
from typing import Iterable

# DEL, C1, Arabic letter mark, LRM/RLM, line and paragraph separators, bidi embeddings,
# overrides and isolates, lone surrogates; with C0 in full, or C0 but for tab and newline.
_OTHERS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ONE_LINE = re.compile(f"[\x00-\x1f{_OTHERS}]")
_MULTI_LINE = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")

NOTE_CHARS = 300      # one note about a student's cell, at most
NOTES_SHOWN = 20      # notes of one kind listed, then "and N more"


_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, newlines: bool = False) -> str:
    """`text` with every control character escaped (`\\x1b`); `newlines` keeps line breaks and tabs."""
    try:
        text = str(text)
    except Exception:  # noqa: BLE001  (an object whose __str__ fails)
        text = f"<{type(text).__name__}>"
    return (_MULTI_LINE if newlines else _ONE_LINE).sub(_escape, text)


def clip(text: str, limit: int = NOTE_CHARS) -> str:
    """At most `limit` characters: the start and the end, with ' ... ' between them."""
    if len(text) <= limit:
        return text
    tail = min(limit // 3, 100)
    return text[: limit - tail - 5] + " ... " + text[-tail:]


def one_line(text: object, limit: int = NOTE_CHARS) -> str:
    """Student text as one clipped, printable line (line breaks become spaces)."""
    flat = " ".join(str(text).replace("\r\n", "\n").split("\n"))
    return clip(printable(flat), limit)


def capped(notes: Iterable[str], limit: int = NOTES_SHOWN, what: str = "more") -> list[str]:
    """The first `limit` notes, then one 'and N more' note for the rest."""
    kept: list[str] = []
    extra = 0
    for note in notes:
        if len(kept) < limit:
            kept.append(note)
        else:
            extra += 1
    if extra:
        kept.append(f"... and {extra} {what}")
    return kept


def cell_notes(origins: list[str], reports: Iterable[object]) -> list[str]:
    """Notes for the cells that failed to run, as 'losses.ipynb, cell 3: <error>'.

    `reports` come from the worker (objects with `index` and `error`); only the index is
    used to name the cell, from `origins`, the names the trusted side sent. The error text
    belongs to the student: clipped, made printable, and at most `NOTES_SHOWN` are listed.
    """
    seen: set[int] = set()

    def notes() -> Iterable[str]:
        for report in reports:
            index, error = getattr(report, "index", None), getattr(report, "error", None)
            if error is None or error == "" or type(index) is not int or index in seen:
                continue
            if not 0 <= index < len(origins):
                continue
            seen.add(index)
            yield f"{origins[index]}: {one_line(error)}"

    return capped(notes(), what="more cells with errors")
