"""Realistic student code for every unit, and how the grader's hints do on it.

Each variant is written the way students write (loops, numpy-ish code,
one-liners, helper functions, classes); none is copied from
solutions/unitN/mistakes.py. A wrong variant names the hint substring(s) it
must get, or None where no hint would be honest. A correct variant, often in an
unusual style, must pass every check with no hint at all.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from helpers import check_source

HEADER = "import math\nimport numpy as np\nimport torch\nfrom torch import nn\n"


@dataclass(frozen=True)
class Variant:
    unit: str
    exercise: str
    title: str
    source: str
    hint: str | tuple[str, ...] | None = None   # wrong variants: the substring(s) its hints must contain

    @property
    def id(self) -> str:
        return f"{self.unit}-{self.exercise}-{self.title.replace(' ', '_')}"

    @property
    def expected(self) -> tuple[str, ...]:
        if self.hint is None:
            return ()
        return (self.hint,) if isinstance(self.hint, str) else self.hint


@dataclass(frozen=True)
class Outcome:
    passed: bool
    lost_points: bool
    hints: tuple[str, ...]     # the distinct hints of the failing checks
    messages: tuple[str, ...]  # the failing checks' messages

    def hinted_as(self, expected: tuple[str, ...]) -> bool:
        """Every expected substring is in some hint, and every hint shown is one of the expected ones."""
        if not expected:
            return not self.hints
        return (all(any(e in h for h in self.hints) for e in expected)
                and all(any(e in h for e in expected) for h in self.hints))


@functools.lru_cache(maxsize=None)
def outcome(variant: Variant) -> Outcome:
    """Check the variant in-process (tests/helpers.check_source) on its exercise only."""
    result = check_source(variant.unit, HEADER + variant.source, [variant.exercise]).exercises[variant.exercise]
    failed = [c for c in result.checks if not c.passed]
    hints = tuple(dict.fromkeys(c.hint for c in failed if c.hint))
    return Outcome(result.passed, result.score < result.max_score, hints, tuple(c.message for c in failed))


def is_specific(variant: Variant) -> bool:
    """A wrong variant that failed and got exactly the hints it should (and at least one)."""
    got = outcome(variant)
    return bool(variant.expected) and got.lost_points and got.hinted_as(variant.expected)


def hint_rate(wrong: list[Variant]) -> float:
    """Share of the wrong variants that got a specific, correct hint."""
    return sum(is_specific(v) for v in wrong) / len(wrong)
