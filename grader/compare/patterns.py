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

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

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
# Each factory returns a Pattern: a small frozen value (its kind and JSON arguments) that is
# called like a function, so a release can ship it as data and rebuild it (`Pattern.from_json`).
Predicate = Callable[[Any, Any, Any], bool]

# exp overflows from about these arguments (float32: exp(88.7) > 3.4e38; float64: exp(709.8) > 1.8e308)
EXP_OVERFLOWS = {"float16": 11.1, "float32": 88.7, "float64": 709.8}


@dataclass(frozen=True)
class Pattern:
    """A predicate over a failing output, named by `kind` with plain arguments: callable as `Mistake.when`."""

    kind: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, actual: Any, expected: Any, inputs: Any) -> bool:
        return bool(_KINDS[self.kind][1](actual, expected, inputs, **self.args))

    def to_json(self) -> dict:
        """{"kind": ..., "args": {...}} with paths as lists: what Pattern.from_json reads back."""
        return {"kind": self.kind, "args": {k: list(v) if isinstance(v, tuple) else v for k, v in self.args.items()}}

    @staticmethod
    def from_json(data: Any) -> Pattern:
        """The pattern that `to_json` wrote; ValueError for an unknown kind or malformed arguments."""
        if not isinstance(data, dict) or not isinstance(data.get("args"), dict) or data.get("kind") not in _KINDS:
            raise ValueError(f"not a known pattern: {str(data)[:80]}")
        try:
            return _KINDS[data["kind"]][0](**data["args"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"malformed {data['kind']} pattern: {exc}") from None


def _path(at: Any) -> Path:
    if not isinstance(at, (list, tuple)) or not all(type(k) in (int, str) for k in at):
        raise ValueError(f"a path is a list of indices and keys, not {at!r}")
    return tuple(at)


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise ValueError(f"a key is a string, not {key!r}")
    return key


def overflow(at: Path = (), *, min_input: float = 0.0) -> Pattern:
    """Holds when part `at` has inf or NaN where finite values were expected (exp overflowed, 0/0),
    on a case whose largest input reaches min_input (the large-logit cases)."""
    return Pattern("overflow", {"at": _path(at), "min_input": float(min_input)})


def _overflow(actual: Any, expected: Any, inputs: Any, *, at: Path, min_input: float) -> bool:
    return largest_input(inputs) >= min_input and nonfinite_where_finite(part(actual, at), part(expected, at))


def nonfinite_only(at: Path) -> Pattern:
    """Holds when part `at` has inf or NaN where a finite value was expected while the rest is finite:
    a loss that took log(0) although the gradient beside it is fine."""
    return Pattern("nonfinite_only", {"at": _path(at)})


def _nonfinite_only(actual: Any, expected: Any, inputs: Any, *, at: Path) -> bool:
    if not nonfinite_where_finite(part(actual, at), part(expected, at)):
        return False
    rest = [a for path, a, _ in leaves(actual, expected) if path[:len(at)] != at]
    return all(all_finite(a) for a in rest)


def flag_off(key: str) -> Pattern:
    """Holds when a measured observation `key` is False where True was expected."""
    return Pattern("flag_off", {"key": _key(key)})


def _flag_off(actual: Any, expected: Any, inputs: Any, *, key: str) -> bool:
    return isinstance(actual, dict) and actual.get(key) is False and expected.get(key) is True


def missed(key: str, *, unless: tuple[str, ...] = ()) -> Pattern:
    """Holds when the measured observation `key` differs from the expected one (a target missed)
    while every observation named in `unless` is as expected."""
    if not isinstance(unless, (list, tuple)):
        raise ValueError(f"unless is a list of keys, not {unless!r}")
    return Pattern("missed", {"key": _key(key), "unless": tuple(_key(k) for k in unless)})


def _missed(actual: Any, expected: Any, inputs: Any, *, key: str, unless: tuple[str, ...]) -> bool:
    if not isinstance(actual, dict) or not isinstance(expected, dict):
        return False
    return actual.get(key) != expected.get(key) and all(actual.get(k) == expected.get(k) for k in unless)


def overflow_along_dim(*, min_input: float) -> Pattern:
    """For a softmax-like `call` case (input tensor args[0], kwargs dim): on inputs whose largest magnitude
    reaches min_input, inf or NaN in the output; or the output's slices along dim all zero exactly where
    exp(z) overflows (exp(z - log(sum(exp(z)))) = exp(z - inf)), while the slices where it cannot are right."""
    return Pattern("overflow_along_dim", {"min_input": float(min_input)})


def _overflow_along_dim(actual: Any, expected: Any, inputs: Any, *, min_input: float) -> bool:
    z, dim = inputs["args"][0], inputs["kwargs"].get("dim", -1)
    if np.abs(z.data).max() < min_input:
        return False
    out = actual.data.astype(np.float64)
    if not np.isfinite(out).all():
        return True
    overflows = z.data.max(axis=dim) > EXP_OVERFLOWS.get(z.dtype, EXP_OVERFLOWS["float32"])
    zero = (out == 0).all(axis=dim)
    right = np.isclose(out, expected.data, rtol=1e-4, atol=1e-6).all(axis=dim)
    return bool(zero.any()) and bool((zero == overflows).all()) and bool(right[~overflows].all()) \
        and bool((~overflows).any())


# kind -> (factory, which rebuilds it from its JSON arguments; implementation)
_KINDS: dict[str, tuple[Callable[..., Pattern], Callable[..., bool]]] = {
    "overflow": (lambda at=(), min_input=0.0: overflow(_path(at), min_input=min_input), _overflow),
    "nonfinite_only": (lambda at: nonfinite_only(_path(at)), _nonfinite_only),
    "flag_off": (flag_off, _flag_off),
    "missed": (lambda key, unless=(): missed(key, unless=tuple(unless)), _missed),
    "overflow_along_dim": (overflow_along_dim, _overflow_along_dim),
}
