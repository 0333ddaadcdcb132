"""Drivers for adversarial attacks and adversarial training on small fixed models.

The model is rebuilt inside the driver from plain weight arrays, so the
student's function receives a real `nn.Module`. Each parameter starts with a
known stale `.grad`, which lets the drivers see whether an attack touched the
model and whether a training step forgot `optimizer.zero_grad()`.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from ..runner.wire import Array
from .base import BadOutput, DriverContext, InputModified, modified, snapshot

STALE_GRAD = 0.25


def build_mlp(weights: list[Any], ctx: DriverContext) -> nn.Sequential:
    """Linear layers from [W1, b1, W2, b2, ...] (W of shape (out, in)), ReLU between them."""
    layers: list[nn.Module] = []
    pairs = [(ctx.tensor(weights[i]), ctx.tensor(weights[i + 1])) for i in range(0, len(weights), 2)]
    for k, (W, b) in enumerate(pairs):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype, device=W.device)
        with torch.no_grad():
            linear.weight.copy_(W)
            linear.bias.copy_(b)
        layers.append(linear)
        if k < len(pairs) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    for param in model.parameters():
        param.grad = torch.full_like(param, STALE_GRAD)
    return model


def _model_state(model: nn.Module) -> tuple[list[Any], list[Any], list[bool], bool]:
    params = list(model.parameters())
    return snapshot(params), snapshot([p.grad for p in params]), [p.requires_grad for p in params], model.training


def _check_model_untouched(name: str, model: nn.Module, state: tuple) -> None:
    values, grads, flags, training = state
    params = list(model.parameters())
    if modified(values, params, ["a parameter"] * len(params)):
        raise InputModified(f"{name} changed the model's parameters; an attack changes the input, never the model")
    if any(p.grad is None for p in params) or modified(grads, [p.grad for p in params], ["grad"] * len(params)):
        raise InputModified(f"{name} changed the `.grad` of the model's parameters; take the gradient with respect "
                            "to the input only, e.g. `torch.autograd.grad(loss, x_adv)`, and leave the model's "
                            "gradients as they were")
    if [p.requires_grad for p in params] != flags:
        raise InputModified(f"{name} changed `requires_grad` of the model's parameters; leave the model as it was")
    if model.training != training:
        raise InputModified(f"{name} switched the model between train and eval mode; leave the mode as it was")


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of X that the model classifies as y."""
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).double().mean())


@register("attack")
def attack(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "model": weights, "x", "y", "args": [eps, ...], "kwargs", "generator_seed"?}."""
    name = inputs["fn"]
    fn = ctx.lookup(ns, name)
    model = build_mlp(inputs["model"], ctx)
    x, y = ctx.tensor(inputs["x"]), ctx.tensor(inputs["y"])
    args, kwargs = list(inputs.get("args", [])), dict(inputs.get("kwargs", {}))
    if "generator_seed" in inputs:
        kwargs["generator"] = ctx.generator(int(inputs["generator_seed"]))
    eps = float(args[0])
    state = _model_state(model)
    before = snapshot([x, y])
    x_adv = fn(model, x, y, *args, **kwargs)
    if modified(before, [x, y], ["x", "y"]):
        raise InputModified(f"{name} modified `x` or `y` in place; work on a copy such as `x_adv = x.clone()`")
    _check_model_untouched(name, model, state)
    if type(x_adv) is not torch.Tensor:
        raise BadOutput(f"{name} returned a {type(x_adv).__name__}; expected a torch.Tensor like x")
    if x_adv.shape != x.shape:
        raise BadOutput(f"{name} returned shape {tuple(x_adv.shape)}; expected x's shape {tuple(x.shape)}")
    x_adv = x_adv.detach()
    step = float((x_adv - x).abs().max()) if x.numel() else 0.0
    return {
        "x_adv stays within eps of x": step <= eps * (1 + 1e-6) + 1e-6,
        "x_adv stays within [0, 1]": bool(((x_adv >= 0) & (x_adv <= 1)).all()),
        "accuracy on x_adv is lower than on x": accuracy(model, x_adv, y) < accuracy(model, x, y),
        "x_adv": x_adv,
    }


@register("adversarial_step")
def adversarial_step(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "model": weights, "x", "y", "lr", "momentum", "args": [eps, alpha, steps], "calls"}.

    Runs the training step `calls` times with an SGD optimizer on the same batch
    and returns the losses and the parameters afterwards.
    """
    name = inputs["fn"]
    fn = ctx.lookup(ns, name)
    model = build_mlp(inputs["model"], ctx)
    optimizer = torch.optim.SGD(model.parameters(), lr=float(inputs["lr"]), momentum=float(inputs["momentum"]))
    x, y = ctx.tensor(inputs["x"]), ctx.tensor(inputs["y"])
    before = snapshot([x, y])
    losses = []
    for _ in range(int(inputs.get("calls", 1))):
        loss = fn(model, optimizer, x, y, *inputs["args"])
        if type(loss) is not float:
            raise BadOutput(f"{name} returned a {type(loss).__name__}; return the loss as a Python float "
                            "(`loss.item()`)")
        losses.append(loss)
    if modified(before, [x, y], ["x", "y"]):
        raise InputModified(f"{name} modified `x` or `y` in place")
    return {"losses": losses,
            "parameters after training": [p.detach().clone() for p in model.parameters()]}


def fgsm_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, eps: float) -> float:
    """Accuracy under the grader's own FGSM at eps (a measurement of a trained model)."""
    X = X.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(X), y)
    (grad,) = torch.autograd.grad(loss, X)
    return accuracy(model, (X + eps * grad.sign()).clamp(0, 1).detach(), y)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: tiny models train many times faster than with contended threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# Layers a trained model may be made of, so the trusted process can rebuild it
# from plain weights and measure it without running any of the student's code.
_PLAIN_LAYERS = {nn.ReLU: "ReLU", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid", nn.ELU: "ELU", nn.GELU: "GELU",
                 nn.Dropout: "Dropout", nn.Flatten: "Flatten", nn.Identity: "Identity"}
_REBUILD = {name: kind for kind, name in _PLAIN_LAYERS.items()}
MAX_LAYERS = 64


def describe_sequential(model: Any, name: str) -> list[dict]:
    """An nn.Sequential of standard layers as plain data (layer types and weights)."""
    if type(model) is not nn.Sequential:
        raise BadOutput(f"{name} returned a {type(model).__name__}; return an nn.Sequential of standard layers "
                        "(Linear, ReLU, Tanh, Sigmoid, LeakyReLU, ELU, GELU, Dropout, Flatten)")
    if len(model) > MAX_LAYERS:
        raise BadOutput(f"{name} returned a model of more than {MAX_LAYERS} layers")
    layers = []
    for index, layer in enumerate(model):
        kind = type(layer)
        if kind is nn.Linear:
            bias = None if layer.bias is None else layer.bias.detach().clone()
            layers.append({"type": "Linear", "weight": layer.weight.detach().clone(), "bias": bias})
        elif kind is nn.LeakyReLU:
            layers.append({"type": "LeakyReLU", "negative_slope": float(layer.negative_slope)})
        elif kind in _PLAIN_LAYERS:
            layers.append({"type": _PLAIN_LAYERS[kind]})
        else:
            raise BadOutput(f"{name} returned a model whose layer {index} is a {kind.__name__}; use standard layers "
                            "(Linear, ReLU, Tanh, Sigmoid, LeakyReLU, ELU, GELU, Dropout, Flatten)")
    return layers


def rebuild_sequential(layers: Any, ctx: DriverContext) -> nn.Sequential:
    """The model described by describe_sequential, built from torch's own layers (trusted side)."""
    if not isinstance(layers, list) or not 0 < len(layers) <= MAX_LAYERS:
        raise BadOutput("the returned model has no layers")
    built: list[nn.Module] = []
    for layer in layers:
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind == "Linear":
            W, b = layer.get("weight"), layer.get("bias")
            if not isinstance(W, Array) or W.data.ndim != 2 or (b is not None and (
                    not isinstance(b, Array) or b.shape != (W.shape[0],))):
                raise BadOutput("a Linear layer of the returned model has malformed weights")
            linear = nn.Linear(W.shape[1], W.shape[0], bias=b is not None)
            linear = linear.to(device=ctx.device, dtype=ctx.tensor(W).dtype)
            with torch.no_grad():
                linear.weight.copy_(ctx.tensor(W))
                if b is not None:
                    linear.bias.copy_(ctx.tensor(b))
            built.append(linear)
        elif kind == "LeakyReLU":
            built.append(nn.LeakyReLU(float(layer.get("negative_slope", 0.01))))
        elif kind in _REBUILD:
            built.append(_REBUILD[kind]())
        else:
            raise BadOutput(f"the returned model has a layer of unknown type {kind!r}")
    return nn.Sequential(*built).eval()


@register("robust_training")
def robust_training(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "X_train", "y_train", "kwargs", ...}: a standard and an adversarially trained model.

    Returns both models as plain data; measure_robust_training evaluates them
    in the trusted process.
    """
    name = inputs["fn"]
    fn = ctx.lookup(ns, name)
    X, y = ctx.tensor(inputs["X_train"]), ctx.tensor(inputs["y_train"])
    kwargs = dict(inputs.get("kwargs", {}))
    models = {}
    for label, adversarial in (("standard", False), ("adversarial", True)):
        with one_thread():
            model = fn(X, y, adversarial=adversarial, **kwargs)
        models[label] = describe_sequential(model, name)
    return models


def measure_robust_training(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Clean and FGSM accuracy of both models on the test set: by how much each misses its target (0 if met)."""
    if not isinstance(raw, dict) or set(raw) != {"standard", "adversarial"}:
        raise BadOutput("malformed result")
    X_test, y_test = ctx.tensor(inputs["X_test"]), ctx.tensor(inputs["y_test"])
    eps, targets = float(inputs["eval_eps"]), inputs["targets"]
    measured = {}
    with one_thread():
        for label in ("standard", "adversarial"):
            model = rebuild_sequential(raw[label], ctx)
            params = list(model.parameters())
            X = X_test.to(params[0].dtype) if params else X_test
            measured[label] = (accuracy(model, X, y_test), fgsm_accuracy(model, X, y_test, eps))
    gain = measured["adversarial"][1] - measured["standard"][1]
    checks = [
        (f"clean test accuracy of the standard model (target {targets['clean']:.2f}), short by",
         targets["clean"] - measured["standard"][0]),
        (f"clean test accuracy of the adversarially trained model (target {targets['clean_adv']:.2f}), short by",
         targets["clean_adv"] - measured["adversarial"][0]),
        (f"FGSM accuracy gain of adversarial=True over adversarial=False (target {targets['gain']:.2f}; "
         "is every mini-batch step with adversarial=True an adversarial training step?), short by",
         targets["gain"] - gain),
        (f"FGSM accuracy at eps={eps} of the adversarially trained model (target {targets['robust']:.2f}), short by",
         targets["robust"] - measured["adversarial"][1]),
    ]
    return {label: round(max(0.0, short), 4) for label, short in checks}
