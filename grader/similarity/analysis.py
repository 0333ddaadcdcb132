"""Compare every pair of students of a class; rank the pairs and group them into clusters.

Pure functions over the students' normalised code (source.py) and their
fingerprints (fingerprint.py). A pair's score is the larger of the two shares
(how much of one student's code the other's matches), so padding a copy with
code of one's own does not hide it; in the calibration (docs/similarity.md) the
mean and the smaller share rank copies no better.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from .fingerprint import Fingerprint, Overlap, fingerprint, overlap
from .source import StudentCode

MIN_SIZE = 120   # characters of filtered code (about 60 tokens): less is too little to judge; such pairs are marked


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    score: float
    shares: tuple[float, float]
    matched: tuple[int, int]      # characters of each side's compared text inside a matching region
    short: bool                   # one side has too little code of its own for the score to mean much

    def to_json(self) -> dict:
        """The pair as `grader similarity --json` lists it (page added by whoever writes pages)."""
        return {"a": self.a, "b": self.b, "score": self.score, "a_share": self.shares[0], "b_share": self.shares[1],
                "a_matched_chars": self.matched[0], "b_matched_chars": self.matched[1], "short": self.short}


@dataclass
class ClassComparison:
    students: dict[str, StudentCode]
    prints: dict[str, Fingerprint]
    pairs: list[Pair]                                          # most similar first
    skipped: dict[str, str] = field(default_factory=dict)      # student -> why they were not compared


def compare_class(codes: list[StudentCode], boilerplate=None) -> ClassComparison:  # noqa: ANN001
    """Fingerprint each student and compare every pair; a student with no code of their own is skipped.

    Students whose compared text is the same share one fingerprint, and each pair of distinct texts is
    compared once: a class where many hand in the same code costs what its distinct versions cost.
    """
    students = {c.student: c for c in codes}
    by_text: dict[str, Fingerprint] = {}
    prints, skipped = {}, {}
    for code in codes:
        if not code.pieces:
            skipped[code.student] = "no code of their own (only the released starter, or nothing readable)"
            continue
        text = code.text
        if text not in by_text:
            by_text[text] = fingerprint(code.student, text, boilerplate)
        prints[code.student] = by_text[text]
    found: dict[tuple[int, int], Overlap] = {}
    pairs = []
    for a, b in combinations(sorted(prints), 2):
        key = (id(prints[a]), id(prints[b]))
        if key not in found:
            found[key] = overlap(prints[a], prints[b])
        pairs.append(score_pair(a, b, prints[a], prints[b], found[key]))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return ClassComparison(students, prints, pairs, skipped)


def score_pair(a: str, b: str, fa: Fingerprint, fb: Fingerprint, found: Overlap) -> Pair:
    """A pair's score and sizes from copydetect's overlap."""
    matched = tuple(int((s[1] - s[0]).sum()) if s.size else 0 for s in found.slices)
    shares = (round(found.shares[0], 4), round(found.shares[1], 4))   # as reported: thresholds see what JSON says
    return Pair(a, b, max(shares), shares, matched, min(fa.size, fb.size) < MIN_SIZE)  # type: ignore[arg-type]


def clusters(pairs: list[Pair], threshold: float) -> list[list[str]]:
    """Connected components of the pairs scoring at least `threshold`, largest first (each sorted)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        if pair.score >= threshold:
            parent[root(pair.a)] = root(pair.b)
    groups: dict[str, list[str]] = {}
    for student in parent:
        groups.setdefault(root(student), []).append(student)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))
