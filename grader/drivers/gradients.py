"""Backpropagate through a student's function and report the gradients of its inputs.

The loss is sum(output * cotangent) over every tensor of the output, with the
cotangents given in the inputs (fixed random arrays shaped like the expected
output), so the gradient of each argument named in inputs["wrt"] is a plain
vector-Jacobian product that an oracle can compute with PyTorch's own layers.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from . import register
from .base import BadOutput, CheckProblem, DriverContext, InputModified, modified, snapshot
from .checked import hinted


def flatten(tree: Any) -> list[Any]:
    """The leaves of a tree of tuples and lists, in order."""
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in flatten(item)]
    return [tree]


def vjp_loss(output: Any, cotangent: Any, fn: str) -> torch.Tensor:
    """sum over leaves of (leaf * cotangent).sum(); explains a leaf of the wrong kind or shape."""
    outs, cots = flatten(output), flatten(cotangent)
    if len(outs) != len(cots):
        raise BadOutput(f"{fn} returned {len(outs)} tensor{'s' * (len(outs) != 1)}, expected {len(cots)}")
    total = None
    for i, (y, c) in enumerate(zip(outs, cots)):
        if not isinstance(y, torch.Tensor):
            raise BadOutput(f"{fn} returned a {type(y).__name__} as output {i}; expected a tensor")
        if tuple(y.shape) != tuple(c.shape):
            got = ", ".join(map(str, y.shape))
            want = ", ".join(map(str, c.shape))
            raise BadOutput(f"{fn} returned a tensor of shape ({got}) as output {i}, expected ({want})")
        term = (y * c).sum()
        total = term if total is None else total + term
    return total


@register("call_grad")
def call_grad(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict[str, Any]:
    """`call` inputs plus "wrt" (argument names) and "cotangent" (a tree shaped like the output).

    Returns {"d<name>": gradient} for each name in wrt.
    """
    return hinted(_call_grad, ns, inputs, ctx)


def _call_grad(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict[str, Any]:
    fn = ctx.lookup(ns, inputs["fn"])
    names = list(inputs["arg_names"])
    wrt = list(inputs["wrt"])
    args = [ctx.tensor(a, requires_grad=n in wrt) if n in wrt else ctx.convert(a)
            for n, a in zip(names, inputs["args"])]
    kwargs = {k: ctx.convert(v) for k, v in inputs.get("kwargs", {}).items()}
    before = snapshot(args)
    out = fn(*args, **kwargs)
    changed = modified(before, args, names)
    if changed:
        raise InputModified(f"{inputs['fn']} modified its input {', '.join(f'`{n}`' for n in changed)} in place; "
                            "compute new tensors instead")
    loss = vjp_loss(out, ctx.convert(inputs["cotangent"]), inputs["fn"])
    leaves = [args[names.index(n)] for n in wrt]
    if not loss.requires_grad:
        raise CheckProblem(f"the result of {inputs['fn']} does not depend on its inputs through autograd; "
                           "compute it with torch operations on the given tensors (no .detach(), .numpy() or .item())")
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    unused = [n for n, g in zip(wrt, grads) if g is None]
    if unused:
        raise CheckProblem(f"the result of {inputs['fn']} does not depend on "
                           f"{', '.join(f'`{n}`' for n in unused)}; every argument should take part")
    return {f"d{n}": g for n, g in zip(wrt, grads)}
