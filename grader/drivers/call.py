"""The common driver: call one function with tensors and return what it returns."""
from __future__ import annotations

from typing import Any, Mapping

from . import register
from .base import DriverContext, InputModified, modified, snapshot


@register("call")
def call(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> Any:
    """inputs: {"fn": name, "args": [...], "arg_names": [...], "kwargs": {...}}."""
    fn = ctx.lookup(ns, inputs["fn"])
    args = [ctx.convert(a) for a in inputs.get("args", [])]
    kwargs = {k: ctx.convert(v) for k, v in inputs.get("kwargs", {}).items()}
    names = list(inputs.get("arg_names", [f"argument {i + 1}" for i in range(len(args))]))
    before = snapshot(args)
    out = fn(*args, **kwargs)
    changed = modified(before, args, names)
    if changed:
        which = ", ".join(f"`{n}`" for n in changed)
        raise InputModified(
            f"{inputs['fn']} modified its input {which} in place; "
            "compute a new tensor instead (for example `z = z - m`, not `z -= m`)"
        )
    return out


@register("call_raises")
def call_raises(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> str:
    """Call like `call`; report 'raises X' when it raises an instance of inputs['expect']."""
    import builtins

    fn = ctx.lookup(ns, inputs["fn"])
    expected = getattr(builtins, inputs["expect"])
    args = [ctx.convert(a) for a in inputs.get("args", [])]
    kwargs = {k: ctx.convert(v) for k, v in inputs.get("kwargs", {}).items()}
    try:
        value = fn(*args, **kwargs)
    except expected:
        return f"raises {inputs['expect']}"
    except Exception as exc:  # noqa: BLE001
        return f"raises {type(exc).__name__}"
    # the value tells two wrong answers apart (a mistake that returns 3 is not one that returns -1),
    # so a hint matches only where the mistake really does what the student did; -1.0 reads as -1
    shown = str(value) if type(value) is int else format(value, "g") if type(value) is float else type(value).__name__
    return f"returns {shown} without an error"
