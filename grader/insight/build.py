"""The class report's data: everything `grader report` shows, as one JSON-ready dict (docs/report.md)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable

from ..config import Course, Unit
from ..errors import UsageError
from ..gradebook.store import StoredGrade, now
from ..report.safe import printable
from . import classwork, items

FORMAT = "dl-grader-class-report"
VERSION = 1
TOP_PAIRS = 10
SIMILAR_FROM = 0.8   # a pair this similar is listed under "needs attention" (unless pairs.json names a threshold)
MAX_PAIRS_BYTES = 20 * 1024 * 1024


def build_report(grades: list[StoredGrade], unit: Unit, *, salt: str, bank: Any = None,
                 source: Callable[[str, str], str | None] | None = None,
                 similarity: dict[str, Any] | None = None) -> dict[str, Any]:
    """Scores, checks, mistakes, attention, quiz item analysis (with the bank) and similar pairs."""
    check_rows = classwork.checks(grades, unit)
    pairs = similarity["pairs"] if similarity else None
    similar_from = similarity["threshold"] if similarity and similarity["threshold"] is not None else SIMILAR_FROM
    return {
        "format": FORMAT, "version": VERSION, "unit": unit.id, "title": unit.title, "generated_at": now(),
        "students": classwork.counts(grades),
        "scores": classwork.scores(grades, unit),
        "checks": check_rows,
        "stages": classwork.stages_by_exercise(check_rows),
        "mistakes": classwork.mistakes(grades, unit, source),
        "attention": classwork.attention(grades, pairs, similar_from),
        "quiz": items.analyse(grades, bank, salt) if bank is not None and any(g.quiz for g in grades) else None,
        "similarity": similarity,
    }


def load_bank(course: Course, unit: Unit) -> Any:
    """The unit's full question bank, or None (no quiz, or a student release's bank without keys)."""
    from ..quiz.bank import load_bank as load

    path = course.root / "quizzes" / f"{unit.id}.toml"
    if unit.quiz is None or not path.is_file():
        return None
    bank = load(path)
    return None if bank.released else bank


def load_similarity(folder: Path, report_dir: Path) -> dict[str, Any]:
    """The top pairs of `grader similarity`'s DIR/pairs.json, each page as a link relative to report_dir."""
    path = folder / "pairs.json"
    try:
        if path.stat().st_size > MAX_PAIRS_BYTES:
            raise UsageError(f"{printable(path)} is larger than {MAX_PAIRS_BYTES >> 20} MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["pairs"]
        if not isinstance(raw, list):
            raise TypeError("pairs is not a list")
        pairs = []
        for pair in raw[:TOP_PAIRS]:
            score = float(pair["score"])
            if not math.isfinite(score):
                raise ValueError(f"score {score} is not a number")
            page = pair.get("page")
            link = None
            if isinstance(page, str) and page and Path(page).name == page and not page.startswith("."):
                link = Path(os.path.relpath(folder / page, report_dir)).as_posix()
            pairs.append({"a": str(pair["a"]), "b": str(pair["b"]), "score": round(score, 4), "page": link})
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{printable(path)} is not a similarity result that can be read: {printable(exc)}",
                         "run `grader similarity UNIT --out DIR` again, or leave out --similarity") from None
    threshold = data.get("threshold")
    index = folder / "index.html"
    return {"folder": Path(os.path.relpath(folder, report_dir)).as_posix(), "pairs_total": len(raw),
            "threshold": float(threshold) if isinstance(threshold, (int, float)) and math.isfinite(threshold)
            else None,
            "index": Path(os.path.relpath(index, report_dir)).as_posix() if index.is_file() else None,
            "pairs": pairs}
