"""A progress display for batches: a bar with rate and ETA on a terminal, plain lines elsewhere.

`format_bar` and `format_line` are pure (tested at a fixed width); `Progress` only
decides when to write them.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _rate_eta(done: int, total: int, elapsed: float) -> tuple[str, str]:
    if done <= 0 or elapsed <= 0:
        return "-/s", "ETA -:--"
    rate = done / elapsed
    return f"{rate:.1f}/s", f"ETA {_duration((total - done) / rate)}"


def format_bar(done: int, total: int, elapsed: float, *, failed: int = 0, width: int = 80) -> str:
    """`[#####-----]  45/200  3.2/s  ETA 0:48  2 failed`, fitted to width."""
    rate, eta = _rate_eta(done, total, elapsed)
    tail = f" {done:>{len(str(total))}}/{total}  {rate}  {eta}" + (f"  {failed} failed" if failed else "")
    room = max(10, width - len(tail) - 2)
    filled = room if total == 0 else room * done // total
    return ("[" + "#" * filled + "-" * (room - filled) + "]" + tail)[:width]


def format_line(done: int, total: int, elapsed: float, *, failed: int = 0) -> str:
    """`graded 45/200 (22%), 3.2/s, ETA 0:48, 2 failed` for logs."""
    rate, eta = _rate_eta(done, total, elapsed)
    pct = 100 * done // total if total else 100
    return f"graded {done}/{total} ({pct}%), {rate}, {eta}" + (f", {failed} failed" if failed else "")


class Progress:
    """Writes progress to a stream: redrawn bar on a tty, a line every `interval` seconds otherwise."""

    def __init__(self, total: int, *, stream: TextIO | None = None, tty: bool | None = None,
                 interval: float = 10.0, width: int | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total, self.interval = total, interval
        self.width = width
        self.done = self.failed = 0
        self.started = time.monotonic()
        self._last_line = self.started

    def advance(self, *, failed: bool = False) -> None:
        """One more student finished."""
        self.done += 1
        self.failed += int(failed)
        now = time.monotonic()
        if self.tty:
            self._draw()
        elif now - self._last_line >= self.interval or self.done == self.total:
            self._last_line = now
            self.stream.write(format_line(self.done, self.total, now - self.started, failed=self.failed) + "\n")
            self.stream.flush()

    def start(self) -> None:
        """Show the empty bar (tty only)."""
        if self.tty and self.total:
            self._draw()

    def finish(self) -> None:
        """End the bar's line."""
        if self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        import shutil

        width = self.width or min(100, shutil.get_terminal_size((80, 24)).columns)
        bar = format_bar(self.done, self.total, time.monotonic() - self.started, failed=self.failed, width=width - 1)
        self.stream.write("\r" + bar)
        self.stream.flush()
