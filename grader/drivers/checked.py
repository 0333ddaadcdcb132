"""Variants of `call` that demand more of the result or explain known crashes.

`call_int`     the result must be a Python int (sizes, counts), not a float or a tensor.
`call_hinted`  like `call`, but an exception whose message contains one of the
               substrings in inputs["error_hints"] gets that hint appended.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import register
from .base import BadOutput, DriverContext, StudentError
from .call import call


def hinted(fn: Any, ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> Any:
    """Run a driver; turn an exception matching inputs['error_hints'] into a StudentError with the hint."""
    try:
        return fn(ns, inputs, ctx)
    except Exception as exc:  # noqa: BLE001
        hint = next((h for key, h in inputs.get("error_hints", {}).items() if key in str(exc)), None)
        if hint is None:
            raise
        from ..runner.worker import describe

        raise StudentError(f"{describe(exc)}. Hint: {hint}") from None


@register("call_hinted")
def call_hinted(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> Any:
    """`call` with inputs['error_hints']: {substring of an exception message: hint}."""
    return hinted(call, ns, inputs, ctx)


@register("call_int")
def call_int(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> int:
    """`call`, then insist on an int: a size or a count of 14.0 is a float, not an int."""
    out = call(ns, inputs, ctx)
    if isinstance(out, (int, np.integer)) and not isinstance(out, (bool, np.bool_)):
        return int(out)
    shown = repr(out) if isinstance(out, (float, bool)) else f"a {type(out).__name__}"
    raise BadOutput(f"{inputs['fn']} returned {shown}; return a Python int "
                    "(use // for floor division, or int(...) on a tensor's .item())")
