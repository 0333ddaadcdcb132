"""Drivers that compare whole nn.Modules: structure, weights by name, forward in both modes, gradients.

The weights come with the case's inputs (a state_dict made from the reference
in the trusted process), so the driver only builds the named class, loads
them, and reports what the module does. It holds no expected value.

Inputs shared by the drivers here:
    {"cls": name, "args": [...], "kwargs": {...}, "x": array,
     "state": {param or buffer name: array} (optional),
     "dtype": "float64" (optional; the module is moved to it)}
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from . import register
from .base import CheckProblem, DriverContext, _TORCH_DTYPES

MAX_REPR = 200
NAMES_SHOWN = 6


class ModuleMismatch(CheckProblem):
    """The student's module cannot take the reference's weights (names or shapes differ)."""

    kind = "structure"


def describe_call(inputs: dict) -> str:
    """'ResidualBlock(3, 6, use_1x1conv=True, stride=2)' for messages."""
    parts = [repr(a) for a in inputs.get("args", [])]
    parts += [f"{k}={v!r}" for k, v in inputs.get("kwargs", {}).items()]
    return f"{inputs['cls']}({', '.join(parts)})"


def shape_text(shape: Any) -> str:
    """'(10, 6, 16, 16)' for a torch.Size or a tuple."""
    dims = tuple(int(d) for d in shape)
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


def build(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> torch.nn.Module:
    """Instantiate the named class on ctx.device (and in inputs['dtype'] when given)."""
    cls = ctx.lookup(ns, inputs["cls"])
    model = cls(*ctx.convert(inputs.get("args", [])), **ctx.convert(inputs.get("kwargs", {})))
    if not isinstance(model, torch.nn.Module):
        raise CheckProblem(f"{describe_call(inputs)} made a {type(model).__name__}; it must be a torch.nn.Module "
                           "(subclass nn.Module and call super().__init__())")
    model = model.to(ctx.device)
    if "dtype" in inputs:
        model = model.to(_TORCH_DTYPES[inputs["dtype"]])
    return model


def structure(model: torch.nn.Module) -> dict[str, str]:
    """Each submodule that owns parameters or buffers, by name, described by its repr."""
    found = {}
    for name, sub in model.named_modules():
        own = list(sub.named_parameters(recurse=False)) + list(sub.named_buffers(recurse=False))
        if own:
            text = _safe_repr(sub)
            found[name or "(the module itself)"] = text
    return found


def _safe_repr(module: torch.nn.Module) -> str:
    try:
        text = torch.nn.Module.__repr__(module) if not module._modules else type(module).__name__
    except Exception:  # noqa: BLE001  (a student's extra_repr may raise)
        text = type(module).__name__
    text = " ".join(text.split())
    return text if len(text) <= MAX_REPR else text[:MAX_REPR - 3] + "..."


def load_state(model: torch.nn.Module, state: Mapping[str, Any], ctx: DriverContext, what: str) -> None:
    """Copy the given weights into the module by name; say exactly which names or shapes differ."""
    own = model.state_dict()
    missing = [k for k in state if k not in own]
    extra = [k for k in own if k not in state]
    problems = []
    if missing:
        problems.append(f"it has no {_names(missing)} (the reference has)")
    if extra:
        problems.append(f"it has {_names(extra)}, which the reference does not")
    for name, value in state.items():
        if name in own:
            want = tuple(np.shape(value.data if hasattr(value, "data") else value))
            if tuple(own[name].shape) != want:
                problems.append(f"`{name}` has shape {shape_text(own[name].shape)}, the reference's "
                                f"{shape_text(want)}")
    if problems:
        raise ModuleMismatch(f"cannot copy the reference's weights into {what}: " + "; ".join(problems)
                             + ". Use the attribute names and layer sizes the exercise asks for")
    tensors = {k: ctx.tensor(v).to(own[k].dtype) for k, v in state.items()}
    model.load_state_dict(tensors, strict=True)


def _names(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:NAMES_SHOWN])
    more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return shown + more


def run_forward(model: torch.nn.Module, x: torch.Tensor, what: str) -> Any:
    """model(x), with a message that names the module and the input shape when it fails."""
    try:
        return model(x)
    except CheckProblem:
        raise
    except Exception as exc:  # noqa: BLE001
        from ..runner.worker import describe

        text = f"{what} failed on an input of shape {shape_text(x.shape)}: {describe(exc)}"
        if "must match the size of tensor" in str(exc):
            text += (". The two tensors you add have different shapes: the shortcut must have the shape of "
                     "the main branch, so change it with the 1x1 convolution (conv3, with the block's stride) "
                     "whenever the channels or the size change")
        raise CheckProblem(text) from None


def _output_tensor(y: Any, what: str) -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise CheckProblem(f"{what}.forward returned a {type(y).__name__}; it must return a tensor")
    return y


@register("module")
def module(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict[str, Any]:
    """Report what inputs['report'] asks for, a list of:

    "structure"  submodules with parameters or buffers -> their repr
    "num_params" number of trainable parameters
    "shape"      output shape of forward in eval mode on x (weights as initialised)
    "eval", "train"  forward outputs after loading inputs['state']
    "grads"      after a train-mode forward, the gradient of sum(y * cotangent) with respect to
                 x and every parameter, by name (cotangent: inputs['cotangent'], shaped like y)
    """
    what = describe_call(inputs)
    report = inputs["report"]
    model = build(ns, inputs, ctx)
    out: dict[str, Any] = {}
    if "structure" in report:
        out["structure"] = structure(model)
    if "num_params" in report:
        out["num_params"] = int(sum(p.numel() for p in model.parameters() if p.requires_grad))
    x = ctx.tensor(inputs["x"]) if "x" in inputs else None
    if "shape" in report:
        model.eval()
        with torch.no_grad():
            out["output shape"] = shape_text(_output_tensor(run_forward(model, x, what), what).shape)
    if "eval" in report:
        load_state(model, inputs["state"], ctx, what)
        model.eval()
        with torch.no_grad():
            out["eval"] = _output_tensor(run_forward(model, x, what), what)
    if "train" in report:
        load_state(model, inputs["state"], ctx, what)
        model.train()
        with torch.no_grad():
            out["train"] = _output_tensor(run_forward(model, x, what), what)
    if "grads" in report:
        load_state(model, inputs["state"], ctx, what)
        model.train()
        out.update(_gradients(model, x, ctx.tensor(inputs["cotangent"]), what))
    return out


def _gradients(model: torch.nn.Module, x: torch.Tensor, cotangent: torch.Tensor, what: str) -> dict[str, Any]:
    x = x.clone().requires_grad_(True)
    y = _output_tensor(run_forward(model, x, what), what)
    if tuple(y.shape) != tuple(cotangent.shape):
        raise CheckProblem(f"{what} returned shape {shape_text(y.shape)}, expected {shape_text(cotangent.shape)}")
    if not y.requires_grad:
        raise CheckProblem(f"the output of {what} does not depend on its parameters through autograd "
                           "(was something detached, or computed outside torch?)")
    params = dict(model.named_parameters())
    wrt = [x] + list(params.values())
    grads = torch.autograd.grad((y * cotangent).sum(), wrt, allow_unused=True)
    unused = [name for name, g in zip(params, grads[1:]) if g is None]
    if unused:
        raise CheckProblem(f"no gradient reaches {_names(unused)}: forward never uses "
                           f"{'it' if len(unused) == 1 else 'them'}")
    return {"grad x": grads[0] if grads[0] is not None else torch.zeros_like(x),
            "grad parameters": dict(zip(params, grads[1:]))}


@register("module_raises")
def module_raises(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> str:
    """Build the module and run forward on x; report 'raises X' for the first exception, if any."""
    try:
        model = build(ns, inputs, ctx)
        model.eval()
        with torch.no_grad():
            model(ctx.tensor(inputs["x"]))
    except CheckProblem:
        raise
    except Exception as exc:  # noqa: BLE001
        return f"raises {type(exc).__name__}"
    return "returns without an error"


@register("module_trace")
def module_trace(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict[str, str]:
    """Output shapes of the named submodules (inputs['trace']) during one eval-mode forward on x."""
    what = describe_call(inputs)
    model = build(ns, inputs, ctx)
    subs = dict(model.named_modules())
    missing = [n for n in inputs["trace"] if n not in subs]
    if missing:
        raise ModuleMismatch(f"{what} has no submodule {_names(missing)}; name the parts as the exercise asks")
    shapes: dict[str, str] = {}

    def recorder(name: str):  # noqa: ANN202
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            if name not in shapes:
                shapes[name] = shape_text(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        return hook

    handles = [subs[n].register_forward_hook(recorder(n)) for n in inputs["trace"]]
    try:
        model.eval()
        with torch.no_grad():
            run_forward(model, ctx.tensor(inputs["x"]), what)
    finally:
        for handle in handles:
            handle.remove()
    return {n: shapes.get(n, "not called by forward") for n in inputs["trace"]}
