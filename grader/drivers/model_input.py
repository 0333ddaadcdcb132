"""A driver for functions that take a model: the model is rebuilt in the worker from weights sent as inputs."""
from __future__ import annotations

from typing import Any, Mapping

import torch

from . import register
from .attacks import build_mlp
from .base import BadOutput, DriverContext, InputModified, modified, snapshot


@register("call_model")
def call_model(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> Any:
    """inputs: {"fn", "model": [W1, b1, W2, b2, ...] (Linear layers, ReLU between), "x"}: fn(model, x).

    The model is in eval mode; the check fails when fn changes its parameters, its mode or x.
    """
    name = inputs["fn"]
    fn = ctx.lookup(ns, name)
    model = build_mlp(inputs["model"], ctx).eval()
    x = ctx.tensor(inputs["x"])
    params = list(model.parameters())
    before = snapshot(params + [x])
    out = fn(model, x)
    if modified(before[:-1], params, ["a parameter"] * len(params)):
        raise InputModified(f"{name} changed the model's parameters; only run it")
    if modified(before[-1:], [x], ["x"]):
        raise InputModified(f"{name} modified its input `x` in place; compute a new tensor instead")
    if model.training:
        raise InputModified(f"{name} switched the model to train mode; leave the mode as it was")
    if not isinstance(out, torch.Tensor):
        raise BadOutput(f"{name} returned a {type(out).__name__}; expected a torch.Tensor")
    return out
