"""Call a function whose arguments hold tensors inside lists and dicts, and catch in-place edits.

`call` only watches top-level tensor arguments; `call_nested` also watches the
tensors inside a list of gradients or a dict of parameters.
"""
from __future__ import annotations

from typing import Any, Mapping

from . import register
from .base import DriverContext, InputModified, modified, snapshot


def flatten(value: Any, name: str) -> list[tuple[str, Any]]:
    """(path, leaf) pairs for every leaf of an argument tree, e.g. ("grads[1]", tensor)."""
    if isinstance(value, (list, tuple)):
        return [pair for i, v in enumerate(value) for pair in flatten(v, f"{name}[{i}]")]
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in flatten(v, f"{name}[{k!r}]")]
    return [(name, value)]


def check_unmodified(fn_name: str, before: list[Any], leaves: list[tuple[str, Any]]) -> None:
    """Raise InputModified naming every tensor that changed since `before` was taken."""
    changed = modified(before, [v for _, v in leaves], [n for n, _ in leaves])
    if changed:
        which = ", ".join(f"`{n}`" for n in changed)
        raise InputModified(f"{fn_name} modified its input {which} in place; return new tensors instead "
                            "(for example `g = g * scale`, not `g *= scale` or `g.mul_(scale)`)")


@register("call_nested")
def call_nested(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> Any:
    """Like `call`, with every tensor in nested lists and dicts checked for in-place changes."""
    fn = ctx.lookup(ns, inputs["fn"])
    args = [ctx.convert(a) for a in inputs.get("args", [])]
    kwargs = {k: ctx.convert(v) for k, v in inputs.get("kwargs", {}).items()}
    names = list(inputs.get("arg_names", [f"argument {i + 1}" for i in range(len(args))]))
    leaves = [pair for a, n in zip(args, names) for pair in flatten(a, n)]
    before = snapshot([v for _, v in leaves])
    out = fn(*args, **kwargs)
    check_unmodified(inputs["fn"], before, leaves)
    return out
