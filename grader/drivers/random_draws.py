"""Drivers and measurements for functions that draw random tensors (weight initialisation).

A draw cannot be compared value by value with the reference's, so the checks
compare observations about it, made in the trusted process from plain data:
its shape and dtype, its standard deviation, mean and excess kurtosis (a
uniform draw has -1.2, a normal one 0), its largest magnitude (a uniform
draw on [-a, a] comes within a fraction of a percent of a), whether a seeded
generator reproduces it, and where a sequence of values falls relative to
bands stated in the check's inputs. The units' checks state the tolerances.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ..runner.wire import Array
from . import register
from .base import BadOutput, DriverContext, InputModified, modified, snapshot


def _call(fn: Any, name: str, inputs: dict, ctx: DriverContext, generator: Any) -> torch.Tensor:
    args = [ctx.convert(a) for a in inputs.get("args", [])]
    kwargs = {k: ctx.convert(v) for k, v in inputs.get("kwargs", {}).items()}
    before = snapshot(args)
    out = fn(*args, **kwargs) if generator is None else fn(*args, generator=generator, **kwargs)
    if modified(before, args, list(inputs.get("arg_names", [f"argument {i + 1}" for i in range(len(args))]))):
        raise InputModified(f"{name} modified one of its input tensors in place; compute a new tensor instead")
    if type(out) is not torch.Tensor:
        raise BadOutput(f"{name} returned a {type(out).__name__}; expected a torch.Tensor")
    return out.detach()


@register("call_generator")
def call_generator(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> torch.Tensor:
    """Like `call`, with generator= a torch.Generator seeded with inputs['seed'] on the check's device."""
    name = inputs["fn"]
    return _call(ctx.lookup(ns, name), name, inputs, ctx, ctx.generator(int(inputs["seed"])))


@register("call_seeded")
def call_seeded(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """Draws with one seed twice (torch's own RNG reseeded between them), and with another seed."""
    name, seed = inputs["fn"], int(inputs["seed"])
    fn = ctx.lookup(ns, name)
    torch.random.default_generator.manual_seed(1)
    first = _call(fn, name, inputs, ctx, ctx.generator(seed))
    torch.random.default_generator.manual_seed(2)    # draws that ignore `generator` change with this
    again = _call(fn, name, inputs, ctx, ctx.generator(seed))
    other = _call(fn, name, inputs, ctx, ctx.generator(seed + 1))
    return {"first": first, "again": again, "other": other}


# Measurements: run in the trusted process on plain data (runner.wire.Array).
def _values(raw: Any) -> np.ndarray:
    if not isinstance(raw, Array):
        raise BadOutput(f"expected a tensor, got a {type(raw).__name__}")
    return raw.data.astype(np.float64)


def measure_scale(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Shape, dtype, device and standard deviation of a draw."""
    v = _values(raw)
    return {"shape": list(v.shape), "dtype": raw.dtype, "device": raw.device,
            "standard deviation": float(v.std()) if v.size else 0.0}


def measure_distribution(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """The mean in units of the standard deviation, and the excess kurtosis (uniform -1.2, normal 0)."""
    v = _values(raw).ravel()
    std = float(v.std()) if v.size else 0.0
    if std == 0.0 or not np.isfinite(std):
        return {"mean / standard deviation": float("nan"), "excess kurtosis": float("nan")}
    z = (v - v.mean()) / std
    return {"mean / standard deviation": float(v.mean() / std), "excess kurtosis": float((z ** 4).mean() - 3.0)}


def measure_bound(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """The largest magnitude of a draw."""
    v = _values(raw)
    return {"largest |value|": float(np.abs(v).max()) if v.size else 0.0}


def measure_seeded(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Whether a seeded generator reproduces the draw, and another seed changes it."""
    if not isinstance(raw, dict) or set(raw) != {"first", "again", "other"}:
        raise BadOutput("malformed result")
    v = {k: _values(a) for k, a in raw.items()}
    return {"the same generator seed gives the same values": bool(np.array_equal(v["first"], v["again"])),
            "another generator seed gives other values": not np.array_equal(v["first"], v["other"])}


def _band(value: float, low: float, high: float) -> str:
    where = "within" if low <= value <= high else ("below" if value < low else "above")
    return f"{where} [{low:.3g}, {high:.3g}]"


def measure_bands(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """How many values a 1-d result has, and where the values named in inputs['bands'] fall.

    inputs['bands']: {label: [index, low, high]}; a value reads 'within [low, high]', 'below ...' or 'above ...'.
    """
    v = _values(raw)
    out: dict[str, Any] = {"number of values": int(v.size)}
    if v.ndim != 1:
        raise BadOutput(f"expected a 1-d tensor, got shape {tuple(v.shape)}")
    for label, (index, low, high) in inputs["bands"].items():
        if not -v.size <= int(index) < v.size:
            out[label] = "missing"
        elif not np.isfinite(v[int(index)]):
            out[label] = f"{v[int(index)]} (not finite)"
        else:
            out[label] = _band(float(v[int(index)]), float(low), float(high))
    return out
