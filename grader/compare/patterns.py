"""Failure patterns: which parts of an output fail, and whether a known mistake explains them.

An output is a tree (tuples, lists, dicts) of leaves: tensors (runner.wire.Array),
numbers, strings. A *part* is a leaf, or a subtree whose structure differs from
the expected one, named by its path from the root: `(1,)` is the gradient of a
`(loss, dscores)` tuple, `(1, "W1")` one entry of a dict of gradients.

A mistake *explains* a failing part when the student's values agree with the
mistake's on the elements that fail (within the case's tolerance; any
non-finite value matches any other, since an overflow shows as inf in one
spelling and NaN in another). Everything here is pure and takes plain data;
the predicates that units use in `Mistake.when` are built from these.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ..runner.wire import Array
from .tensors import ToleranceFor, close, compare_tree

Path = tuple[Any, ...]
MISSING = object()


def failing_parts(actual: Any, expected: Any, tolerance: ToleranceFor, path: Path = ()) -> dict[Path, bool]:
    """Each failing part's path, mapped to whether it holds continuous values (floats) rather than discrete ones."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return {path: False}
        found: dict[Path, bool] = {}
        for i, (a, e) in enumerate(zip(actual, expected)):
            found.update(failing_parts(a, e, tolerance, (*path, i)))
        return found
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return {path: False}
        found = {}
        for key in expected:
            found.update(failing_parts(actual[key], expected[key], tolerance, (*path, key)))
        return found
    if compare_tree(actual, expected, tolerance).passed:
        return {}
    return {path: is_continuous(expected) and floats(actual) is not None}


def part(tree: Any, path: Path) -> Any:
    """The subtree at path, or MISSING when the tree has no such part."""
    for key in path:
        try:
            tree = tree[key]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return tree


def is_continuous(value: Any) -> bool:
    """A float tensor or a Python float: values that are compared within a tolerance."""
    if isinstance(value, Array):
        return value.data.dtype.kind == "f"
    return type(value) is float


def floats(value: Any) -> np.ndarray | None:
    """The values of a tensor or a number as float64, or None for anything else."""
    if isinstance(value, Array):
        return value.data.astype(np.float64) if value.data.dtype.kind in "fiub" else None
    if type(value) in (int, float):
        return np.asarray(value, dtype=np.float64)
    return None


def _dtype(value: Any) -> str:
    return value.dtype if isinstance(value, Array) else "float64"


def explains(actual: Any, candidate: Any, expected: Any, tolerance: ToleranceFor) -> bool:
    """Does the mistake's output (candidate) explain how this part of the student's output fails?

    Continuous parts: on every element where the student's value fails, the
    mistake's value agrees with it (any non-finite value with any other), and
    the student fails on at least half of the elements the mistake gets wrong
    (a partial overflow, or the mistake in some rows only, still counts; a few
    stray elements do not). Other parts (a string, an integer, a structure):
    the student's equals the mistake's, which is wrong.
    """
    if candidate is MISSING:
        return False
    verdict = compare_tree(actual, expected, tolerance)
    if verdict.passed:
        return False
    if is_continuous(expected) and verdict.stage == "values":
        a, c, e = floats(actual), floats(candidate), floats(expected)
        if a is not None and c is not None and e is not None and a.shape == c.shape == e.shape:
            if isinstance(candidate, Array) and isinstance(actual, Array) and candidate.dtype != actual.dtype:
                return False
            rtol, atol = tolerance(_dtype(expected))
            bad = ~close(a, e, rtol, atol)
            if not bad.any() or not close(a[bad], c[bad], rtol, atol, any_nonfinite=True).all():
                return False
            # and the student fails on at least half of the elements the mistake gets wrong: three
            # near-zero gradients of another sign are noise, not an attack that descends
            return 2 * int(bad.sum()) >= int((~close(c, e, rtol, atol)).sum())
        return False
    return compare_tree(actual, candidate, tolerance).passed and not compare_tree(candidate, expected, tolerance).passed


def leaves(actual: Any, expected: Any, path: Path = ()) -> Iterator[tuple[Path, Any, Any]]:
    """(path, actual leaf, expected leaf) for every leaf of expected that actual has at the same place."""
    if isinstance(expected, (tuple, list)):
        if isinstance(actual, (tuple, list)) and len(actual) == len(expected):
            for i, (a, e) in enumerate(zip(actual, expected)):
                yield from leaves(a, e, (*path, i))
        return
    if isinstance(expected, dict):
        if isinstance(actual, dict):
            for key in expected:
                if key in actual:
                    yield from leaves(actual[key], expected[key], (*path, key))
        return
    yield path, actual, expected


def nonfinite_where_finite(actual: Any, expected: Any) -> bool:
    """True when some value is inf or NaN where the expected value is finite (an overflow, a log of 0)."""
    for _, a, e in leaves(actual, expected):
        got, want = floats(a), floats(e)
        if got is None or want is None or got.shape != want.shape:
            continue
        if bool((~np.isfinite(got) & np.isfinite(want)).any()):
            return True
    return False


def all_finite(value: Any) -> bool:
    """True when every number in the tree is finite (strings and other leaves are ignored)."""
    for _, leaf, _ in leaves(value, value):
        got = floats(leaf)
        if got is not None and not bool(np.isfinite(got).all()):
            return False
    return True


def largest_input(inputs: Any) -> float:
    """The largest magnitude among the input tensors and numbers: tells the large-logit cases apart."""
    largest = 0.0
    for _, leaf, _ in leaves(inputs, inputs):
        got = floats(leaf)
        if got is not None and got.size:
            with np.errstate(invalid="ignore"):
                largest = max(largest, float(np.nanmax(np.abs(got))))
    return largest


# Predicates for Mistake.when ---------------------------------------------------
Predicate = Callable[[Any, Any, Any], bool]


def overflow(at: Path = (), *, min_input: float = 0.0) -> Predicate:
    """Holds when part `at` has inf or NaN where finite values were expected (exp overflowed, 0/0),
    on a case whose largest input reaches min_input (the large-logit cases)."""
    def holds(actual: Any, expected: Any, inputs: Any) -> bool:
        return largest_input(inputs) >= min_input and nonfinite_where_finite(part(actual, at), part(expected, at))
    return holds


def nonfinite_only(at: Path) -> Predicate:
    """Holds when part `at` has inf or NaN where a finite value was expected while the rest is finite:
    a loss that took log(0) although the gradient beside it is fine."""
    def holds(actual: Any, expected: Any, inputs: Any) -> bool:
        if not nonfinite_where_finite(part(actual, at), part(expected, at)):
            return False
        rest = [a for path, a, _ in leaves(actual, expected) if path[:len(at)] != at]
        return all(all_finite(a) for a in rest)
    return holds


def flag_off(key: str) -> Predicate:
    """Holds when a measured observation `key` is False where True was expected."""
    def holds(actual: Any, expected: Any, inputs: Any) -> bool:
        return isinstance(actual, dict) and actual.get(key) is False and expected.get(key) is True
    return holds
