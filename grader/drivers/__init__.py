"""Drivers call student (or reference) code on a case's inputs.

A driver runs in two places: inside the worker on the student's namespace,
and in the trusted grader on the reference namespace. It must therefore hold
no expected values and import nothing from solutions/: it only calls the
names it is given and returns a tree of tensors and plain values.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .base import (
    BadOutput,
    DriverContext,
    InputModified,
    MissingName,
    StudentError,
    to_plain,
)

Driver = Callable[[Mapping[str, Any], dict, DriverContext], Any]
_REGISTRY: dict[str, Driver] = {}


def register(name: str) -> Callable[[Driver], Driver]:
    """Decorator: make a driver available under a name."""

    def add(fn: Driver) -> Driver:
        _REGISTRY[name] = fn
        return fn

    return add


def get(name: str) -> Driver:
    """Return the driver registered under name, loading the built-in modules once."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no driver named {name!r}") from None


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = [
    "BadOutput", "DriverContext", "InputModified", "MissingName", "StudentError",
    "get", "register", "to_plain",
]
