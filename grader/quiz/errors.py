"""Errors of the quiz engine (kept free of sympy so the command line starts fast)."""
from __future__ import annotations


class QuizError(Exception):
    """A quiz problem the user can fix; carries an exit code and an optional hint."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message


class BankError(QuizError):
    """A question bank that is malformed (an instructor's mistake)."""


class AnswersError(QuizError):
    """An answers.toml that cannot be read."""
