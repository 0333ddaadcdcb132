"""Run a hand-written optimiser step many times and record the whole trajectory.

A wrong bias correction or a misplaced epsilon is small on one step but shows
over a trajectory, so the driver feeds a fixed sequence of gradients through
the student's step function and returns the parameters and the optimiser
state after every step. Using torch.optim inside the step is detected with
torch's global optimizer-step hook (an official API, nothing is patched), a
second signal beside the trusted side's reading of the source (grader/static):
a step that removes the hook fails as well.
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from . import register
from .base import BadOutput, CheckProblem, DriverContext, snapshot
from .nested import check_unmodified


class ForbiddenOptimizer(CheckProblem):
    kind = "forbidden"


def _as_tuple(out: Any, fn: str, count: int) -> tuple:
    if not isinstance(out, (tuple, list)) or len(out) != count:
        got = f"a {type(out).__name__}" + (f" of {len(out)} values" if isinstance(out, (tuple, list)) else "")
        raise BadOutput(f"{fn} returned {got}; expected a tuple of {count} tensors")
    for value in out:
        if not isinstance(value, torch.Tensor):
            raise BadOutput(f"{fn} returned a {type(value).__name__} in its tuple; expected tensors")
    return tuple(out)


def _hook_present(handle: Any) -> bool:
    hooks = getattr(importlib.import_module("torch.optim.optimizer"), "_global_optimizer_pre_hooks", None)
    return not isinstance(hooks, dict) or handle.id in hooks


@register("optim_steps")
def optim_steps(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "w", "grads" (T, ...), "state": {name: array}, "t0": int | None, "kwargs": {...}}.

    Calls fn(w, dw, *state, [t], **kwargs) for each of the T gradients, feeding
    back what it returns, and stacks w and every state tensor over the steps.
    """
    fn_name = inputs["fn"]
    fn = ctx.lookup(ns, fn_name)
    w = ctx.tensor(inputs["w"])
    grads = ctx.tensor(inputs["grads"])
    state_names = list(inputs["state"])
    state = [ctx.tensor(inputs["state"][k]) for k in state_names]
    kwargs = dict(inputs.get("kwargs", {}))
    t0 = inputs.get("t0")
    stepped: list[str] = []

    def spy(optimizer: torch.optim.Optimizer, args: Any, kw: Any) -> None:
        stepped.append(type(optimizer).__name__)

    history: dict[str, list[torch.Tensor]] = {"w": [], **{k: [] for k in state_names}}
    handle = register_optimizer_step_pre_hook(spy)
    try:
        for step in range(grads.shape[0]):
            dw = grads[step].clone()
            args = [w, dw, *state] + ([t0 + step] if t0 is not None else [])
            leaves = list(zip(["w", "dw", *state_names], [w, dw, *state]))
            before = snapshot([v for _, v in leaves])
            out = _as_tuple(fn(*args, **kwargs), fn_name, 1 + len(state))
            check_unmodified(fn_name, before, leaves)
            if not _hook_present(handle):
                raise ForbiddenOptimizer(f"{fn_name} removes torch's optimizer hooks, which this exercise does not "
                                         "allow; write the update with tensor arithmetic")
            if stepped:
                raise ForbiddenOptimizer(f"uses torch.optim.{stepped[0]}, which this exercise does not allow; "
                                         "write the update with tensor arithmetic")
            w, state = out[0], list(out[1:])
            for name, value in zip(["w", *state_names], out):
                history[name].append(value.detach().clone())
    finally:
        handle.remove()
    result = {}
    for name, values in history.items():
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            raise BadOutput(f"the `{name}` returned changes shape between steps: {sorted(shapes)}")
        result[f"{name} after each step"] = torch.stack(values)
    return result
