"""Detect calls to forbidden torch shortcuts, even indirect ones.

A TorchFunctionMode sees every torch function and Tensor method called with
tensor arguments, whoever calls it, so `F.softmax` inside a helper is caught
as well as `z.softmax(-1)`.
"""
from __future__ import annotations

import functools
from typing import Any

import torch
from torch.overrides import TorchFunctionMode


def resolve(name: str) -> Any | None:
    """Return the object a dotted name such as 'torch.Tensor.softmax' refers to."""
    parts = name.split(".")
    if parts[0] != "torch":
        return None
    obj: Any = torch
    for part in parts[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class ForbiddenWatch(TorchFunctionMode):
    """Records which of the forbidden functions were called while active."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.targets = {}
        for name in names:
            obj = resolve(name)
            if obj is not None:
                self.targets[_key(obj)] = name
        self.used: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = self.targets.get(_key(func))
        if name and name not in self.used:
            self.used.append(name)
        return func(*args, **(kwargs or {}))


def _key(obj: Any) -> Any:
    while isinstance(obj, functools.partial):
        obj = obj.func
    return getattr(obj, "__wrapped__", obj)
