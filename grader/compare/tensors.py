"""Staged comparison of output trees: type, structure, shape, dtype, device, values.

Every function here is pure: it takes plain data (runner.wire.Array, numbers,
tuples, lists, dicts) and returns a Verdict. Nothing prints.
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
                 path: str = "", names: tuple[str, ...] = ()) -> Verdict:
    """Compare actual with expected stage by stage; the first failing stage wins."""
    where = f"{path}: " if path else ""
    if isinstance(expected, Array) or _is_number(expected):
        return _compare_leaf(actual, expected, tolerance, where)
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)):
            return Verdict(False, f"{where}got {_kind(actual)}, expected a tuple of {len(expected)} values"
                           + _named(names), "type")
        if len(actual) != len(expected):
            return Verdict(False, f"{where}got {len(actual)} value{'s' * (len(actual) != 1)}, expected {len(expected)}" + _named(names),
                           "structure")
        for i, (a, e) in enumerate(zip(actual, expected)):
            label = names[i] if i < len(names) else f"{path}[{i}]" if path else f"item {i}"
            verdict = compare_tree(a, e, tolerance, path=label)
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
            verdict = compare_tree(actual[key], expected[key], tolerance, path=label)
            if not verdict.passed:
                return verdict
        return OK
    if actual == expected and type(actual) is type(expected):
        return OK
    return Verdict(False, f"{where}got {_show(actual)}, expected {_show(expected)}", "values")


def _compare_leaf(actual: Any, expected: Any, tolerance: ToleranceFor, where: str) -> Verdict:
    exp_arr = expected if isinstance(expected, Array) else None
    act_arr = actual if isinstance(actual, Array) else None
    # A 0-d tensor and a Python number stand for the same scalar.
    if exp_arr is not None and act_arr is None:
        if _is_number(actual) and exp_arr.data.ndim == 0:
            act_arr = Array(np.asarray(actual, dtype=np.float64), exp_arr.dtype)
        else:
            return Verdict(False, f"{where}got {_kind(actual)}, expected a tensor of shape {_shape(exp_arr.shape)}",
                           "type")
    if exp_arr is None:
        if act_arr is not None and act_arr.data.ndim == 0:
            return _values(act_arr.data, np.asarray(expected, dtype=np.float64), "float64", tolerance, where)
        if not _is_number(actual):
            return Verdict(False, f"{where}got {_kind(actual)}, expected a number", "type")
        if isinstance(expected, bool) or (isinstance(expected, int) and not isinstance(actual, float)):
            if actual == expected:
                return OK
            return Verdict(False, f"{where}got {actual}, expected {expected}", "values")
        return _values(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                       "float64", tolerance, where)
    if act_arr.shape != exp_arr.shape:
        return Verdict(False, f"{where}got shape {_shape(act_arr.shape)}, expected {_shape(exp_arr.shape)}", "shape")
    if act_arr.dtype != exp_arr.dtype and isinstance(actual, Array):
        return Verdict(False, f"{where}got dtype {act_arr.dtype}, expected {exp_arr.dtype}", "dtype")
    if act_arr.device != exp_arr.device and isinstance(actual, Array):
        return Verdict(False, f"{where}got a tensor on {act_arr.device}, expected one on {exp_arr.device} "
                       "(create new tensors on the input's device)", "device")
    return _values(act_arr.data, exp_arr.data, exp_arr.dtype, tolerance, where)


def _values(actual: np.ndarray, expected: np.ndarray, dtype: str, tolerance: ToleranceFor, where: str) -> Verdict:
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
    parts = [f"{count} of {total} value{'s' * (total != 1)} " + ("differ" if count != 1 or total != 1 else "differs")]
    nan = int(np.count_nonzero(np.isnan(actual.astype(np.float64)) & bad)) if actual.dtype.kind == "f" else 0
    if nan:
        parts.append(f"{nan} {'is' if nan == 1 else 'are'} NaN")
    worst_diff = float(diff[worst]) if bad.ndim else float(diff)
    tol = float(np.broadcast_to(allowed, bad.shape)[worst]) if bad.ndim else float(np.asarray(allowed))
    at = f" at index {_index(worst)}" if bad.ndim else ""
    if math.isfinite(worst_diff):
        parts.append(f"largest difference {worst_diff:.3g}{at}, tolerance {tol:.3g}")
    else:
        got = actual[worst] if bad.ndim else actual
        want = expected[worst] if bad.ndim else expected
        parts.append(f"got {_num(got)}{at} where {_expectation(want)} was expected")
    if total == 1:
        got = _num(actual.reshape(-1)[0])
        if math.isfinite(worst_diff):
            parts = [f"got {got}, which is off by {worst_diff:.3g} (tolerance {tol:.3g})"]
        else:
            parts = [f"got {got} where {_expectation(expected.reshape(-1)[0])} was expected"]
    return Verdict(False, where + ", ".join(parts), "values")


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
