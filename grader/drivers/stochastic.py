"""Drivers for random functions (dropout): structure, drop rate, and seeded reproducibility.

A random output cannot be compared value by value with the reference's, so
these drivers return observations about it instead: whether every output is
0 or x times one common scale and what that scale is, the fraction of zeros,
and whether the same generator seed gives the same output. The expected
observations come from the reference (or, for the drop rate, from p itself
with a statistical tolerance set in the unit's checks).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

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
def dropout_structure(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "x" (no zeros), "p", "seed"}: is every output 0 or x * scale, and what scale."""
    fn = ctx.lookup(ns, inputs["fn"])
    x, p = ctx.tensor(inputs["x"]), float(inputs["p"])
    out = _call(fn, inputs["fn"], x, p, train=True, generator=ctx.generator(int(inputs["seed"])))
    kept = out != 0
    if not bool(kept.any()):
        return {"dtype": str(out.dtype).removeprefix("torch."), "some outputs are kept": False}
    ratio = (out[kept] / x[kept]).double()
    scale = float(ratio.mean())
    same = bool(((ratio - scale).abs() <= 1e-5 * abs(scale) + 1e-12).all())
    return {
        "dtype": str(out.dtype).removeprefix("torch."),
        "some outputs are kept": True,
        "every output is 0 or x times one common scale": same,
        "scale of the kept outputs": scale,
    }


@register("dropout_rate")
def dropout_rate(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "shape", "p", "seed"}: the fraction of zeros in dropout of a tensor of ones."""
    fn = ctx.lookup(ns, inputs["fn"])
    x = torch.ones(tuple(inputs["shape"]), dtype=torch.float32, device=ctx.device)
    out = _call(fn, inputs["fn"], x, float(inputs["p"]), train=True, generator=ctx.generator(int(inputs["seed"])))
    return {"fraction of outputs set to 0": float((out == 0).double().mean())}


@register("dropout_seeded")
def dropout_seeded(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "x", "p", "seed"}: draws come from `generator`, and from torch's RNG without one."""
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
    return {
        "the same generator seed gives the same output": bool(torch.equal(first, again)),
        "another generator seed gives another output": not bool(torch.equal(first, other)),
        "without a generator, torch.manual_seed makes it repeatable": bool(torch.equal(plain, plain_again)),
    }
