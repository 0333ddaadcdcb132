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

from grader.quiz.bank import load_bank
from grader.quiz.grading import grade_answers, read_answers, validate_answers
from grader.quiz.interactive import run_interactive
from grader.quiz.model import (
    AnswersError, Bank, BankError, QuestionResult, QuizError, QuizResult, Variant,
)
from grader.quiz.render import difficulty_table, key_json, render_markdown
from grader.quiz.variants import make_variant

__all__ = [
    "AnswersError", "Bank", "BankError", "QuestionResult", "QuizError", "QuizResult", "Variant",
    "difficulty_table", "grade_answers", "key_json", "load_bank", "make_variant",
    "read_answers", "render_markdown", "run_interactive", "validate_answers",
]
