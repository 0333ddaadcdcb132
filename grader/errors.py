"""Errors the grader reports to people, each with an exit code and a hint."""
from __future__ import annotations

import difflib


class GraderError(Exception):
    """An error meant for the user: a message, an optional hint, an exit code."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(GraderError):
    """Bad command-line usage: unknown unit, exercise or path."""


class ConfigError(GraderError):
    """course.toml or a unit's check spec is missing or malformed."""


class GraderFailure(GraderError):
    """The grader itself could not run (not the student's fault)."""

    exit_code = 3


def did_you_mean(word: str, choices: list[str]) -> str | None:
    """Return 'did you mean X?' for the closest choice, or None."""
    close = [c for c in difflib.get_close_matches(word, choices, n=3, cutoff=0.6) if not _other_number(word, c)]
    return f"did you mean {close[0]}?" if close else None


def _other_number(word: str, choice: str) -> bool:
    """'unit9' and 'unit5' differ only in their number: another thing, not a misspelling."""
    stem, digits = word.rstrip("0123456789"), word[len(word.rstrip("0123456789")):]
    other = choice.rstrip("0123456789")
    return bool(digits) and stem == other and digits != choice[len(other):]


def unknown(kind: str, word: str, choices: list[str], hint: str) -> UsageError:
    """An 'unknown unit/exercise' error with a spelling suggestion."""
    guess = did_you_mean(word, choices)
    message = f"no {kind} '{word}'" + (f"; {guess}" if guess else "")
    return UsageError(message, hint)
