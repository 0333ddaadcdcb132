"""Recognise known mistakes in a failing output by the pattern of the failure, and pick the hints.

Real student code rarely reproduces a catalogued mistake to the last bit, and
often has two bugs at once. So a failing output is matched in two stages:

1. Whole-output evidence, in catalogue order: a mistake's predicate over the
   failure (`Mistake.when`: inf where a finite loss was expected, a mask shared
   by every example), or equality with a catalogued mistake's output.
2. The failure pattern (grader.compare.patterns): the parts of the output that
   fail (the loss, the gradient, one weight's trajectory) and, within each, the
   elements that fail. A mistake explains a part when it gets those elements
   as wrong as the student did. One mistake explaining every failing part wins;
   else two that explain them together (a loss with one bug and a gradient
   with another: both hints); else the one or two explaining the most failing
   parts with continuous values. Discrete parts alone (a flag, a count) are too
   weak to name a mistake this way.

Everything here is pure: the mistakes' outputs come from a callable, computed
(and cached) by the trusted process.
"""
from __future__ import annotations

from itertools import combinations
from typing import Any, Callable, Sequence

from .compare.patterns import MISSING, explains, failing_parts, part
from .compare.tensors import ToleranceFor, matches
from .spec.model import Mistake

MAX_HINTS = 2
NO_OUTPUT = MISSING  # what `output_of` returns for a mistake that has no output on this case (or crashed)


def recognise(mistakes: Sequence[Mistake], output_of: Callable[[int], Any], actual: Any, expected: Any,
              inputs: Any, tolerance: ToleranceFor) -> str | None:
    """The hint (or two, joined) for the known mistakes the failing output shows, or None."""
    for index, mistake in enumerate(mistakes):
        if mistake.when is not None:
            if _holds(mistake, actual, expected, inputs):
                return mistake.hint
            continue
        wrong = output_of(index)
        if wrong is not NO_OUTPUT and matches(actual, wrong, tolerance):
            return mistake.hint
    chosen = _by_pattern(mistakes, output_of, actual, expected, tolerance)
    return join_hints([mistakes[i].hint for i in chosen]) if chosen else None


def join_hints(hints: Sequence[str]) -> str:
    """'first hint; also, second hint' (each hint once, in catalogue order)."""
    unique = list(dict.fromkeys(hints))
    return "; also, ".join(unique)


def _holds(mistake: Mistake, actual: Any, expected: Any, inputs: Any) -> bool:
    try:
        return bool(mistake.when(actual, expected, inputs))
    except Exception:  # noqa: BLE001  (a predicate meets malformed output)
        return False


def _by_pattern(mistakes: Sequence[Mistake], output_of: Callable[[int], Any], actual: Any, expected: Any,
                tolerance: ToleranceFor) -> tuple[int, ...]:
    failing = failing_parts(actual, expected, tolerance)
    if not failing:
        return ()
    explained: dict[int, frozenset] = {}
    for index, mistake in enumerate(mistakes):
        if mistake.when is not None:
            continue
        wrong = output_of(index)
        if wrong is NO_OUTPUT:
            continue
        paths = frozenset(p for p in failing if explains(part(actual, p), part(wrong, p), part(expected, p), tolerance))
        if paths:
            explained[index] = paths
    everything = frozenset(failing)
    continuous = frozenset(p for p, is_float in failing.items() if is_float)
    groups = [(i,) for i in explained] + list(combinations(explained, MAX_HINTS))
    groups = [g for g in groups if _covers(g, explained) & continuous and _each_adds(g, explained)]
    full = [g for g in groups if _covers(g, explained) == everything]
    if full:
        return full[0]   # singles come first, then pairs, each in catalogue order
    scored = [(len(_covers(g, explained) & continuous), -len(g), g) for g in groups]
    if not scored:
        return ()
    best = max(s[:2] for s in scored)
    return next(g for n, k, g in scored if (n, k) == best)


def _covers(group: tuple[int, ...], explained: dict[int, frozenset]) -> frozenset:
    return frozenset().union(*(explained[i] for i in group))


def _each_adds(group: tuple[int, ...], explained: dict[int, frozenset]) -> bool:
    """Every mistake of the group explains a failing part that the others do not."""
    return all(explained[i] - _covers(tuple(j for j in group if j != i), explained) for i in group)
