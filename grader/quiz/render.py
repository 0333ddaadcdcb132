"""Showing a variant: Markdown for students, the key as JSON for instructors, difficulty stats."""

from __future__ import annotations

import json
from typing import Any

from grader.quiz.model import Question, QuizResult, Variant
from grader.quiz.variants import params_json
from grader.report.safe import clip, printable

HOW_TO_ANSWER = {
    "choice": 'one option id in quotes, e.g. "b"',
    "multi": 'a list of every option id that applies, e.g. ["a", "c"] ([] for none)',
    "integer": "a whole number, e.g. 42",
    "numeric": 'a number, e.g. 0.125, or a formula in quotes, e.g. "exp(-1)/2"',
    "shape": "a list of whole numbers, e.g. [4, 16, 8, 8]",
    "symbolic": 'a formula in quotes, e.g. "2*x*(1 - tanh(x)**2)"',
}

TYPE_IN_TERMINAL = {
    "choice": "one option letter, e.g. b",
    "multi": "every option letter that applies, e.g. a, c (- for none)",
    "integer": "a whole number, e.g. 42",
    "numeric": "a number, e.g. 0.125, or a formula, e.g. exp(-1)/2",
    "shape": "whole numbers separated by commas, e.g. 4, 16, 8, 8",
    "symbolic": "a formula, e.g. 2*x*(1 - tanh(x)**2)",
}

EXAMPLE = {
    "choice": '"b"', "multi": '["a", "c"]', "integer": "42", "numeric": "0.125",
    "shape": "[4, 16, 8, 8]", "symbolic": '"2*x + 1"',
}


def answer_hint(q: Question) -> str:
    """How to write the answer to ``q`` in answers.toml."""
    text = HOW_TO_ANSWER[q.kind]
    if q.kind == "symbolic":
        names = ", ".join(v[0] for v in q.spec.variables)
        text += f"; variables: {names}; functions such as exp, log, sqrt, tanh, sigma, abs, max"
    if q.kind == "numeric":
        text += f" (relative tolerance {q.spec.rtol:g})"
    return text


def terminal_hint(q: Question) -> str:
    """What to type for ``q`` at the prompt of ``grader quiz`` (no TOML quoting needed)."""
    text = TYPE_IN_TERMINAL[q.kind]
    if q.kind == "symbolic":
        names = ", ".join(v[0] for v in q.spec.variables)
        text += f"; variables: {names}; functions such as exp, log, sqrt, tanh, sigma, abs, max"
    if q.kind == "numeric":
        text += f" (relative tolerance {q.spec.rtol:g})"
    return text


def _points(q: Question) -> str:
    p = q.points
    n = int(p) if float(p).is_integer() else p
    return f"{n} point" + ("" if n == 1 else "s")


def render_question(q: Question, number: int) -> str:
    """Markdown for one question."""
    lines = [f"## {number}. `{q.id}` ({_points(q)})", "", q.prompt, ""]
    for o in q.options:
        lines.append(f"- **{o.id})** {o.text}")
    if q.options:
        lines.append("")
    lines.append(f"*Answer:* {answer_hint(q)}.")
    return "\n".join(lines)


def render_markdown(variant: Variant) -> str:
    """The student's variant as Markdown, ending with an answers.toml template."""
    parts = [f"# {variant.unit}: {variant.title}", "",
             f"Quiz for student `{variant.student}`. Your numbers differ from your classmates'.",
             "Write your answers in `answers.toml` in this unit's folder, one line per question, "
             "or run `grader quiz " + variant.unit + "` to answer here in the terminal.", ""]
    for i, q in enumerate(variant.questions, 1):
        parts += [render_question(q, i), ""]
    parts += ["## answers.toml template", "", "```toml"]
    parts += [f"# {q.id} = {EXAMPLE[q.kind]}" for q in variant.questions]
    parts += ["```", ""]
    return "\n".join(parts)


def key_json(variant: Variant) -> dict[str, Any]:
    """The variant with its answer key, as plain JSON data for instructors."""
    variant.require_key("the answer key")
    return {
        "unit": variant.unit,
        "student": variant.student,
        "questions": [
            {
                "id": q.id,
                "kind": q.kind,
                "prompt": q.prompt,
                "params": params_json(q.params),
                "options": [{"id": o.id, "text": o.text} for o in q.options],
                "answer": q.answer,
            }
            for q in variant.questions
        ],
    }


def key_text(variant: Variant) -> str:
    """A short human-readable key: one line per question."""
    variant.require_key("the answer key")
    lines = [f"{variant.unit} key for {variant.student}"]
    for q in variant.questions:
        lines.append(f"  {q.id:<24} {json.dumps(q.answer)}")
    return "\n".join(lines)


def difficulty_table(results: list[QuizResult]) -> str:
    """Per-question difficulty across students: attempts, mean score and share of full marks."""
    order: list[str] = []
    stats: dict[str, list[float]] = {}
    full: dict[str, int] = {}
    for r in results:
        for q in r.questions:
            if not q.max_score:
                continue  # keys that are not questions (a student's answers.toml may hold any)
            qid = clip(printable(q.question_id), 40)
            if qid not in stats:
                order.append(qid)
                stats[qid], full[qid] = [], 0
            fraction = q.score / q.max_score
            stats[qid].append(fraction)
            full[qid] += fraction >= 1.0
    if not order:
        return "no graded quiz results yet"
    width = max(12, max(len(qid) for qid in order))
    header = f"{'question':<{width}}  {'students':>8}  {'mean':>6}  {'full marks':>10}"
    lines = [header, "-" * len(header)]
    for qid in sorted(order, key=lambda k: sum(stats[k]) / len(stats[k])):
        values = stats[qid]
        mean = sum(values) / len(values)
        lines.append(f"{qid:<{width}}  {len(values):>8}  {mean:>6.0%}  "
                     f"{full[qid] / len(values):>10.0%}")
    lines.append("(hardest first; mean is the average fraction of the points)")
    return "\n".join(lines)
