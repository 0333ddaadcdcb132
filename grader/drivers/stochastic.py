"""Drivers for random functions (dropout): structure, drop rate, and seeded reproducibility.

A random output cannot be compared value by value with the reference's, so
these drivers return observations about it instead: whether every output is
0 or x times one common scale and what that scale is, whether every example
gets its own mask, the fraction of zeros, and whether the same generator seed
gives the same output. The expected observations come from the reference (or,
for the drop rate, from p itself with a statistical tolerance set in the
unit's checks).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ..runner.wire import Array
from . import register
from .base import BadOutput, DriverContext, InputModified, modified, snapshot


def _call(fn: Any, name: str, x: torch.Tensor, p: float, **kwargs: Any) -> torch.Tensor:
    before = snapshot([x])
    out = fn(x, p, **kwargs)
    if modified(before, [x], ["x"]):
        raise InputModified(f"{name} modified `x` in place; build a new tensor, for example `x * mask / (1 - p)`")
    if not isinstance(out, torch.Tensor):
        raise BadOutput(f"{name} returned a {type(out).__name__}; expected a torch.Tensor")
    if out.shape != x.shape:
        raise BadOutput(f"{name} returned shape {tuple(out.shape)}; expected x's shape {tuple(x.shape)}")
    return out.detach()


@register("dropout_structure")
def dropout_structure(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> torch.Tensor:
    """inputs: {"fn", "x" (no zeros), "p", "seed"}: one training-mode output (see measure_structure)."""
    fn = ctx.lookup(ns, inputs["fn"])
    x, p = ctx.tensor(inputs["x"]), float(inputs["p"])
    return _call(fn, inputs["fn"], x, p, train=True, generator=ctx.generator(int(inputs["seed"])))


@register("dropout_rate")
def dropout_rate(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> torch.Tensor:
    """inputs: {"fn", "shape", "p", "seed"}: dropout of a tensor of ones (see measure_rate)."""
    fn = ctx.lookup(ns, inputs["fn"])
    x = torch.ones(tuple(inputs["shape"]), dtype=torch.float32, device=ctx.device)
    return _call(fn, inputs["fn"], x, float(inputs["p"]), train=True, generator=ctx.generator(int(inputs["seed"])))


@register("dropout_seeded")
def dropout_seeded(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "x", "p", "seed"}: outputs under seeded generators and torch's RNG (see measure_seeded)."""
    fn, name = ctx.lookup(ns, inputs["fn"]), inputs["fn"]
    x, p, seed = ctx.tensor(inputs["x"]), float(inputs["p"]), int(inputs["seed"])
    torch.manual_seed(1)
    first = _call(fn, name, x, p, train=True, generator=ctx.generator(seed))
    torch.manual_seed(2)  # if the draws ignored `generator`, this would change them
    again = _call(fn, name, x, p, train=True, generator=ctx.generator(seed))
    other = _call(fn, name, x, p, train=True, generator=ctx.generator(seed + 1))
    torch.manual_seed(3)
    plain = _call(fn, name, x, p, train=True)
    torch.manual_seed(3)
    plain_again = _call(fn, name, x, p, train=True)
    return {"first": first, "again": again, "other": other, "plain": plain, "plain_again": plain_again}


# Measurements: run in the trusted process on plain data (runner.wire.Array), so
# the student's code cannot forge them.
def _values(raw: Any) -> np.ndarray:
    if not isinstance(raw, Array):
        raise BadOutput(f"expected a tensor, got a {type(raw).__name__}")
    return raw.data.astype(np.float64)


OWN_MASK = "each example gets its own mask"
OWN_DRAW = "each value of an example is dropped on its own"


def mask_independence(kept: np.ndarray) -> dict[str, bool]:
    """Whether the mask varies between examples (rows) and within an example (columns).

    A mask drawn per feature and shared by the batch repeats one row; one drawn
    per example repeats one column. For a correct mask on the checks' shapes
    (at least 40 rows and columns, 0.2 <= p <= 0.8), either happens with
    probability below 1e-9.
    """
    if kept.ndim < 2 or kept.shape[0] < 2 or kept.shape[-1] < 2:
        return {OWN_MASK: True, OWN_DRAW: True}
    rows = kept.reshape(kept.shape[0], -1)
    return {OWN_MASK: not bool((rows == rows[:1]).all()),
            OWN_DRAW: not bool((kept == kept[..., :1]).all())}


def measure_structure(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Is every output 0 or x times one common scale, what is that scale, and is the mask drawn per value."""
    out, x = _values(raw), np.asarray(inputs["x"].data, dtype=np.float64)
    kept = out != 0
    if not kept.any():
        return {"dtype": raw.dtype, "some outputs are kept": False}
    ratio = out[kept] / x[kept]
    scale = float(ratio.mean())
    same = bool((np.abs(ratio - scale) <= 1e-5 * abs(scale) + 1e-12).all())
    return {"dtype": raw.dtype, "some outputs are kept": True, **mask_independence(kept),
            "every output is 0 or x times one common scale": same, "scale of the kept outputs": scale}


def measure_rate(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Whether the mask is drawn per value, and the fraction of outputs set to zero."""
    out = _values(raw)
    return {**mask_independence(out != 0), "fraction of outputs set to 0": float((out == 0).mean())}


def measure_seeded(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Whether the draws follow the generator, and torch's RNG without one."""
    if not isinstance(raw, dict) or set(raw) != {"first", "again", "other", "plain", "plain_again"}:
        raise BadOutput("malformed result")
    v = {k: _values(a) for k, a in raw.items()}
    return {
        "the same generator seed gives the same output": bool(np.array_equal(v["first"], v["again"])),
        "another generator seed gives another output": not np.array_equal(v["first"], v["other"]),
        "without a generator, torch.manual_seed makes it repeatable": bool(np.array_equal(v["plain"], v["plain_again"])),
    }
