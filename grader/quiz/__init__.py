"""Quizzes: question banks, per-student variants, safe answer parsing and grading.

The public API, pure except where a path is passed:

    load_bank(path) -> Bank
    make_variant(bank, *, salt, student_id) -> Variant
    key_json(variant) -> dict
    render_markdown(variant) -> str
    read_answers(path) -> dict
    validate_answers(variant, answers) -> list[QuestionResult]
    grade_answers(variant, answers, *, reveal) -> QuizResult
    run_interactive(variant, answers_path, input_fn=input, output=sys.stdout) -> int
    difficulty_table(results) -> str
"""

import importlib
from typing import Any

# Names are imported on first use: the quiz engine needs sympy, which takes about half a
# second to import, and most `grader` commands never touch a quiz.
_HOMES = {
    "load_bank": "bank", "grade_answers": "grading", "read_answers": "grading",
    "validate_answers": "grading", "run_interactive": "interactive", "AnswersError": "model",
    "Bank": "model", "BankError": "model", "QuestionResult": "model", "QuizError": "model",
    "QuizResult": "model", "Variant": "model", "difficulty_table": "render", "key_json": "render",
    "render_markdown": "render", "make_variant": "variants",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'grader.quiz' has no attribute {name!r}")
    return getattr(importlib.import_module(f"grader.quiz.{_HOMES[name]}"), name)


__all__ = [
    "AnswersError", "Bank", "BankError", "QuestionResult", "QuizError", "QuizResult", "Variant",
    "difficulty_table", "grade_answers", "key_json", "load_bank", "make_variant",
    "read_answers", "render_markdown", "run_interactive", "validate_answers",
]
