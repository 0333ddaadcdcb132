"""A second signal in the worker: record calls to forbidden torch functions as they happen.

The verdict on shortcuts is made in the trusted process from the student's
source (grader/static). This watch runs in the student's process, so it can
be switched off there; its report can only cost points, never earn them.

A TorchFunctionMode sees every torch function and Tensor method called with
tensor arguments, whoever calls it, so `F.softmax` inside a helper is caught
as well as `z.softmax(-1)`. A family in the request is expanded to its
dotted members that exist in the torch that runs.
"""
from __future__ import annotations

import functools
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from ..static.families import Family, families


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


@functools.lru_cache(maxsize=64)
def targets(names: tuple[str, ...]) -> dict[Any, str]:
    """The objects to watch for these forbidden entries (families or dotted names) -> the name to report."""
    found: dict[Any, str] = {}
    for family in _known(names):
        for member in family.members:
            _add(found, member, resolve(member))
    return found


class ForbiddenWatch(TorchFunctionMode):
    """Records which of the forbidden functions were called while active."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.targets = targets(tuple(n for n in names if isinstance(n, str)))
        self.used: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = self.targets.get(_key(func))
        if name and name not in self.used:
            self.used.append(name)
        return func(*args, **(kwargs or {}))


def _known(names: tuple[str, ...]) -> list[Family]:
    out = []
    for name in names:
        try:
            out.extend(families((name,)))
        except ValueError:
            continue  # an entry this worker does not know: the trusted side judges the source anyway
    return out


def _add(found: dict[Any, str], name: str, obj: Any) -> None:
    if obj is None or not callable(obj):
        return
    try:
        found.setdefault(_key(obj), name)
    except TypeError:  # unhashable
        pass


def _key(obj: Any) -> Any:
    while isinstance(obj, functools.partial):
        obj = obj.func
    return getattr(obj, "__wrapped__", obj)
