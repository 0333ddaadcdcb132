"""Staged comparison of output trees: type, structure, shape, dtype, device, values.

Every function here is pure: it takes plain data (runner.wire.Array, numbers,
tuples, lists, dicts) and returns a Verdict. Nothing prints.

No message shows an expected number: a wrong integer or scalar is "too large"
or "too small", a tensor gets mismatch statistics. With `reveal=False` (a
hidden case, whose inputs the student never sees) messages say even less: no
direction, no difference, no expected shape or text, only what the student's
own value is and where it goes wrong.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..runner.wire import Array

ToleranceFor = Callable[[str], tuple[float, float]]  # dtype name -> (rtol, atol)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str = ""
    stage: str = "values"  # type, structure, shape, dtype, device, values


OK = Verdict(True, "", "ok")


def compare_tree(actual: Any, expected: Any, tolerance: ToleranceFor, *,
                 path: str = "", names: tuple[str, ...] = (), reveal: bool = True) -> Verdict:
    """Compare actual with expected stage by stage; the first failing stage wins.

    reveal=False (hidden cases): the message never shows an expected value, shape or
    text, nor how far off a value is.
    """
    where = f"{path}: " if path else ""
    if isinstance(expected, Array) or _is_number(expected):
        return _compare_leaf(actual, expected, tolerance, where, reveal)
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)):
            return Verdict(False, f"{where}got {_kind(actual)}, expected a tuple of {len(expected)} values"
                           + _named(names), "type")
        if len(actual) != len(expected):
            return Verdict(False, f"{where}got {len(actual)} value{'s' * (len(actual) != 1)}, expected {len(expected)}" + _named(names),
                           "structure")
        for i, (a, e) in enumerate(zip(actual, expected)):
            label = names[i] if i < len(names) else f"{path}[{i}]" if path else f"item {i}"
            verdict = compare_tree(a, e, tolerance, path=label, reveal=reveal)
            if not verdict.passed:
                return verdict
        return OK
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return Verdict(False, f"{where}got {_kind(actual)}, expected a dict with keys {sorted(expected)}", "type")
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing key{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unexpected key{'s' * (len(extra) > 1)} {', '.join(map(repr, extra))}")
            return Verdict(False, where + "; ".join(parts), "structure")
        for key in expected:
            label = f"{path}[{key!r}]" if path else key
            verdict = compare_tree(actual[key], expected[key], tolerance, path=label, reveal=reveal)
            if not verdict.passed:
                return verdict
        return OK
    if actual == expected and type(actual) is type(expected):
        return OK
    if not reveal:
        return Verdict(False, f"{where}got {_show(actual)}, which is not the expected value", "values")
    # a text such as "raises ValueError" or "at least 0.30": a behaviour or a target, which the check's name states
    return Verdict(False, f"{where}got {_show(actual)}, expected {_show(expected)}", "values")


def _compare_leaf(actual: Any, expected: Any, tolerance: ToleranceFor, where: str, reveal: bool = True) -> Verdict:
    exp_arr = expected if isinstance(expected, Array) else None
    act_arr = actual if isinstance(actual, Array) else None
    # A 0-d tensor and a Python number stand for the same scalar.
    if exp_arr is not None and act_arr is None:
        if _is_number(actual) and exp_arr.data.ndim == 0:
            act_arr = Array(np.asarray(actual, dtype=np.float64), exp_arr.dtype)
        else:
            shape = f" of shape {_shape(exp_arr.shape)}" if reveal else ""
            return Verdict(False, f"{where}got {_kind(actual)}, expected a tensor{shape}", "type")
    if exp_arr is None:
        if act_arr is not None and act_arr.data.ndim == 0:
            return _values(act_arr.data, np.asarray(expected, dtype=np.float64), "float64", tolerance, where, reveal)
        if not _is_number(actual):
            return Verdict(False, f"{where}got {_kind(actual)}, expected a number", "type")
        if isinstance(expected, bool) or (isinstance(expected, int) and not isinstance(actual, float)):
            if actual == expected:
                return OK
            return Verdict(False, where + _wrong_number(actual, expected, reveal), "values")
        return _values(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                       "float64", tolerance, where, reveal)
    if act_arr.shape != exp_arr.shape:
        return Verdict(False, where + _wrong_shape(act_arr.shape, exp_arr.shape, reveal), "shape")
    if act_arr.dtype != exp_arr.dtype and isinstance(actual, Array):
        return Verdict(False, f"{where}got dtype {act_arr.dtype}, expected {exp_arr.dtype}", "dtype")
    if act_arr.device != exp_arr.device and isinstance(actual, Array):
        return Verdict(False, f"{where}got a tensor on {act_arr.device}, expected one on {exp_arr.device} "
                       "(create new tensors on the input's device)", "device")
    return _values(act_arr.data, exp_arr.data, exp_arr.dtype, tolerance, where, reveal)


def _wrong_number(actual: Any, expected: Any, reveal: bool) -> str:
    """An integer or a truth value that is not the expected one: its direction, never the value itself."""
    if isinstance(expected, bool) or isinstance(actual, bool) or not reveal:
        return f"got {actual}, which is not the expected value"
    return f"got {actual}, which is too {'large' if actual > expected else 'small'}"


def _wrong_shape(actual: tuple[int, ...], expected: tuple[int, ...], reveal: bool) -> str:
    """A wrong shape; in a hidden case, only how many dimensions and which ones differ.

    The expected sizes of a hidden case follow from inputs the student never sees (and for a
    convolution the output size is itself the exercise), so they are not shown.
    """
    if reveal:
        return f"got shape {_shape(actual)}, expected {_shape(expected)}"
    if len(actual) != len(expected):
        return (f"got shape {_shape(actual)}, but the result has {len(expected)} "
                f"dimension{'s' * (len(expected) != 1)}")
    differ = [str(i) for i, (a, e) in enumerate(zip(actual, expected)) if a != e]
    return (f"got shape {_shape(actual)}, which differs from the expected shape in "
            f"dimension{'s' * (len(differ) > 1)} {', '.join(differ)}")


def _values(actual: np.ndarray, expected: np.ndarray, dtype: str, tolerance: ToleranceFor, where: str,
            reveal: bool = True) -> Verdict:
    if expected.dtype.kind in "biu" and actual.dtype.kind in "biu":
        bad = actual != expected
        allowed = 0.0
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    else:
        rtol, atol = tolerance(dtype)
        a = actual.astype(np.float64)
        e = expected.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a - e)
            limit = atol + rtol * np.abs(e)
        bad = ~close(a, e, rtol, atol)
        diff = np.where(bad & ~np.isfinite(diff), np.inf, np.where(bad, diff, 0.0))
        allowed = limit
    count = int(np.count_nonzero(bad))
    if count == 0:
        return OK
    total = int(bad.size)
    finite_bad = bad & np.isfinite(diff)
    pick = finite_bad if finite_bad.any() else bad
    worst = np.unravel_index(int(np.argmax(np.where(pick, np.nan_to_num(diff, posinf=0.0), -1.0))), bad.shape) if bad.ndim else ()
    worst_diff = float(diff[worst]) if bad.ndim else float(diff)
    tol = float(np.broadcast_to(allowed, bad.shape)[worst]) if bad.ndim else float(np.asarray(allowed))
    if total == 1:
        return Verdict(False, where + _wrong_scalar(actual.reshape(-1)[0], expected.reshape(-1)[0], worst_diff, tol,
                                                    integer=expected.dtype.kind in "biu", reveal=reveal), "values")
    parts = [f"{count} of {total} values differ"]
    nan = int(np.count_nonzero(np.isnan(actual.astype(np.float64)) & bad)) if actual.dtype.kind == "f" else 0
    if nan:
        parts.append(f"{nan} {'is' if nan == 1 else 'are'} NaN")
    at = f" at index {_index(worst)}"
    got, want = actual[worst], expected[worst]
    if not math.isfinite(worst_diff) and (reveal or math.isfinite(float(want))):
        parts.append(f"got {_num(got)}{at} where {_expectation(want)} was expected")
    elif not reveal:
        parts.append(f"the worst{at}")
    else:
        # statistics as torch.testing gives them: a student sees how far and where, not the expected value
        parts.append(f"largest difference {worst_diff:.3g}{at}, tolerance {tol:.3g}")
    return Verdict(False, where + ", ".join(parts), "values")


def _wrong_scalar(actual: Any, expected: Any, diff: float, tol: float, *, integer: bool, reveal: bool) -> str:
    """One wrong number: too large or too small (slightly, when a precision problem is likely).

    Never the difference: with the student's own value it would give the expected value away.
    """
    got = str(int(actual)) if integer and actual.dtype.kind in "biu" else _num(actual)
    if math.isfinite(diff):
        if not reveal or actual.dtype.kind == "b":
            return f"got {got}, which is not the expected value"
        side = "large" if float(actual) > float(expected) else "small"
        if not integer and diff <= 100 * tol:
            return f"got {got}, which is slightly too {side} (tolerance {tol:.3g}: a rounding or precision problem?)"
        return f"got {got}, which is too {side}"
    if not reveal and not math.isfinite(float(expected)):
        return f"got {got}, which is not the expected value"
    return f"got {got} where {_expectation(expected)} was expected"


def close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, *,
          any_nonfinite: bool = False) -> np.ndarray:
    """Elementwise: |actual - expected| <= atol + rtol * |expected|, NaN equal to NaN, inf to inf of its sign.

    With any_nonfinite, any non-finite value equals any other (inf, -inf and NaN alike):
    for recognising a mistake whose overflow shows as NaN in one spelling and inf in another.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.abs(a - e) <= atol + rtol * np.abs(e)
    if any_nonfinite:
        return near | (~np.isfinite(a) & ~np.isfinite(e))
    both_nan = np.isnan(a) & np.isnan(e)
    same_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    return near | both_nan | same_inf


def _expectation(value: Any) -> str:
    """Describe an expected value without giving it away."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "an infinite value"
    return "a finite value"


def _is_number(value: Any) -> bool:
    return type(value) in (int, float, bool)


def _kind(value: Any) -> str:
    if isinstance(value, Array):
        return f"a tensor of shape {_shape(value.shape)}"
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"a {type(value).__name__}"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _index(index: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(int(i)) for i in index) + ("," if len(index) == 1 else "") + ")"


def _num(value: Any) -> str:
    return f"{float(value):.6g}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _named(names: tuple[str, ...]) -> str:
    return f" ({', '.join(names)})" if names else ""


def matches(actual: Any, candidate: Any, tolerance: ToleranceFor) -> bool:
    """True when actual equals candidate within tolerance (used to recognise known mistakes)."""
    return compare_tree(actual, candidate, tolerance).passed
