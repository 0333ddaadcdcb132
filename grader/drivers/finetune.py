"""A driver for fine-tuning: hand a pre-trained nn.Sequential to the student's function and report what it changed.

The backbone is rebuilt from plain weight arrays ([W1, b1, W2, b2, ...], Linear layers
with ReLU between them), so the driver holds no expected value: it only reports the
new last layer, which parameters still require gradients, which ones the function
returned (by name), whether the pre-trained weights were kept, and the output shape.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from . import register
from .attacks import build_mlp
from .base import BadOutput, DriverContext, modified, snapshot
from .modules import shape_text


def _describe_layer(layer: Any) -> str:
    if type(layer) is nn.Linear:
        return f"Linear(in_features={layer.in_features}, out_features={layer.out_features}, " \
               f"bias={layer.bias is not None})"
    return type(layer).__name__


@register("fine_tune")
def fine_tune(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict[str, Any]:
    """inputs: {"fn", "backbone": [W1, b1, ...], "num_classes", "kwargs": {...}, "x"}."""
    name = inputs["fn"]
    fn = ctx.lookup(ns, name)
    model = build_mlp(inputs["backbone"], ctx)
    for param in model.parameters():
        param.grad = None
    old_head = model[-1]
    body = [p for layer in list(model)[:-1] for p in layer.parameters()]
    before = snapshot(body)
    returned = fn(model, int(inputs["num_classes"]), **dict(inputs.get("kwargs", {})))
    if isinstance(returned, torch.Tensor) or not hasattr(returned, "__iter__"):
        raise BadOutput(f"{name} returned a {type(returned).__name__}; return the parameters to optimise as a "
                        "list (for example `list(head.parameters())`)")
    by_id = {id(p): n for n, p in model.named_parameters()}
    returned_names = [by_id.get(id(p), "an object that is not a parameter of the backbone") for p in returned]
    if type(model) is not nn.Sequential or len(model) == 0:
        raise BadOutput(f"{name} must change the backbone in place (replace its last layer), not rebuild it")
    x = ctx.tensor(inputs["x"])
    with torch.no_grad():
        shape = shape_text(model(x).shape)
    return {
        "last layer": _describe_layer(model[-1]),
        "last layer replaced by a new one": model[-1] is not old_head,
        "earlier layers keep their pre-trained weights": not modified(before, body, ["w"] * len(body)),
        "parameters that require gradients": [n for n, p in model.named_parameters() if p.requires_grad],
        "parameters returned": sorted(returned_names),
        "output shape": shape,
    }
