"""Drivers for fine-tuning: hand a pre-trained nn.Sequential to the student's function and report what it changed,
or train what it returns on a few digits (transfer_digits, measured on the trusted side).

The backbone is rebuilt from plain weight arrays ([W1, b1, W2, b2, ...], Linear layers
with ReLU between them), so the driver holds no expected value: it only reports the
new last layer, which parameters still require gradients, which ones the function
returned (by name), whether the pre-trained weights were kept, and the output shape.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from .attacks import accuracy, build_mlp, one_thread
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


# The transfer check: a small CNN for 8x8 digits, pre-trained on 0-4 by the grader, is handed to the
# student's fine_tune(model, 5, freeze=True) in the worker and trained there on a few images of 5-9.
# Its weights come back as plain arrays; the trusted process rebuilds it and measures it on a test
# split the worker never sees, next to the same network trained from scratch on the same images.
DIGITS_CLASSES = 5


def digits_cnn(device: Any = "cpu") -> nn.Sequential:
    """Two 3x3 convolutions (32 channels, ReLU, 2x2 max pooling each), then a Linear head: (N, 1, 8, 8) -> (N, 5)."""
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 2 * 2, DIGITS_CLASSES)).to(device)


def load_cnn(weights: list[Any], ctx: DriverContext) -> nn.Sequential:
    """digits_cnn with [conv1 W, b, conv2 W, b, head W, b] copied in."""
    model = digits_cnn(ctx.device)
    params = list(model.parameters())
    if len(weights) != len(params):
        raise BadOutput(f"expected {len(params)} weight arrays, got {len(weights)}")
    with torch.no_grad():
        for param, value in zip(params, weights):
            value = ctx.tensor(value).to(torch.float32)
            if value.shape != param.shape:
                raise BadOutput(f"a weight of shape {shape_text(value.shape)} where the network has "
                                f"{shape_text(param.shape)}")
            param.copy_(value)
    return model


def shift_images(X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each (1, 8, 8) image moved by -1, 0 or 1 pixel along each axis (drawn per image), zeros shifted in."""
    padded = F.pad(X, (1, 1, 1, 1))
    rows = torch.randint(0, 3, (len(X),), generator=generator, device=X.device)
    cols = torch.randint(0, 3, (len(X),), generator=generator, device=X.device)
    out = torch.empty_like(X)
    for i in range(3):
        for j in range(3):
            chosen = (rows == i) & (cols == j)
            out[chosen] = padded[chosen, :, i:i + 8, j:j + 8]
    return out


def train_full_batch(model: nn.Module, params: list, X: torch.Tensor, y: torch.Tensor, epochs: int,
                     lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
    """Adam on cross-entropy over the whole (small) set, `epochs` steps; parameters without a gradient stay.

    Written out because torch.optim's first optimizer imports torch._dynamo, which takes over a second.
    """
    first = [torch.zeros_like(p) for p in params]
    second = [torch.zeros_like(p) for p in params]
    for step in range(1, epochs + 1):
        for param in params:
            param.grad = None
        F.cross_entropy(model(X), y).backward()
        with torch.no_grad():
            for param, m, v in zip(params, first, second):
                if param.grad is None:
                    continue
                m.mul_(betas[0]).add_(param.grad, alpha=1 - betas[0])
                v.mul_(betas[1]).addcmul_(param.grad, param.grad, value=1 - betas[1])
                denom = (v / (1 - betas[1] ** step)).sqrt_().add_(eps)
                param.addcdiv_(m, denom, value=-lr / (1 - betas[0] ** step))


@register("transfer_digits")
def transfer_digits(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict[str, Any]:
    """inputs: {"fn", "backbone": [arrays], "X_train", "y_train", "epochs", "lr", "seed"}.

    Calls fn(backbone, 5, freeze=True), trains what it returns and sends back the network's weights.
    """
    name = inputs["fn"]
    fn = ctx.lookup(ns, name)
    model = load_cnn(inputs["backbone"], ctx)
    X, y = ctx.tensor(inputs["X_train"]).to(torch.float32), ctx.tensor(inputs["y_train"]).long()
    torch.random.default_generator.manual_seed(int(inputs["seed"]))   # the new head's initial weights
    returned = fn(model, DIGITS_CLASSES, freeze=True)
    if isinstance(returned, torch.Tensor) or not hasattr(returned, "__iter__"):
        raise BadOutput(f"{name} returned a {type(returned).__name__}; return the parameters to optimise as a list")
    params = list({id(p): p for p in returned}.values())
    own = {id(p) for p in model.parameters()}
    if not params:
        raise BadOutput(f"{name} returned no parameters to optimise")
    if any(id(p) not in own for p in params):
        raise BadOutput(f"{name} returned something that is not a parameter of the backbone")
    if not any(p.requires_grad for p in params):
        raise BadOutput(f"none of the parameters {name} returned requires gradients: the new head must be trained")
    if type(model) is not nn.Sequential or [type(layer) for layer in model] != [type(layer) for layer in digits_cnn()]:
        raise BadOutput(f"{name} must keep the backbone's layers and replace only the last one by an nn.Linear")
    if model[-1].out_features != DIGITS_CLASSES or model[-1].bias is None:
        raise BadOutput(f"the new head must be nn.Linear({model[-1].in_features}, {DIGITS_CLASSES})")
    with one_thread():   # tiny convolutions: many times faster than on contended threads
        train_full_batch(model, params, X, y, int(inputs["epochs"]), float(inputs["lr"]))
    return {"weights": [p.detach().clone() for p in model.parameters()]}


def _scratch_accuracy(inputs: dict, ctx: DriverContext) -> float:
    """The same network trained from scratch on the same images with the same settings (trusted side)."""
    X, y = ctx.tensor(inputs["X_train"]).to(torch.float32), ctx.tensor(inputs["y_train"]).long()
    key = (X.cpu().numpy().tobytes(), y.cpu().numpy().tobytes(), int(inputs["seed"]), int(inputs["epochs"]),
           float(inputs["lr"]), str(ctx.device))
    if key not in _SCRATCH:
        with torch.random.fork_rng(devices=[]), one_thread():
            torch.random.default_generator.manual_seed(int(inputs["seed"]))
            model = digits_cnn(ctx.device)
            train_full_batch(model, list(model.parameters()), X, y, int(inputs["epochs"]), float(inputs["lr"]))
            _SCRATCH[key] = accuracy(model, ctx.tensor(inputs["X_test"]).to(torch.float32),
                                     ctx.tensor(inputs["y_test"]).long())
    return _SCRATCH[key]


_SCRATCH: dict[tuple, float] = {}


def transfer_report(raw: Any, inputs: dict, ctx: DriverContext) -> dict[str, float]:
    """Accuracies on the trusted test split: fine-tuned, from scratch, and the gain."""
    if not isinstance(raw, dict) or set(raw) != {"weights"}:
        raise BadOutput("malformed result")
    model = load_cnn(raw["weights"], ctx)
    with one_thread():
        fine = accuracy(model, ctx.tensor(inputs["X_test"]).to(torch.float32), ctx.tensor(inputs["y_test"]).long())
    scratch = _scratch_accuracy(inputs, ctx)
    return {"fine-tuned": fine, "scratch": scratch, "gain": fine - scratch}


def _transfer_labels(inputs: dict) -> dict[str, str]:
    n = int(inputs["train_images"])
    return {"fine-tuned": f"accuracy on held-out images of 5-9 after fine-tuning on {n}",
            "gain": f"gain over the same network trained from scratch on those {n} images"}


def measure_transfer(raw: Any, inputs: dict, ctx: DriverContext) -> dict[str, str]:
    """Each figure against its target: the bound when met, else the figure rounded down."""
    report = transfer_report(raw, inputs, ctx)
    measured = {}
    for key, label in _transfer_labels(inputs).items():
        target, value = float(inputs["targets"][key]), report[key]
        measured[label] = f"at least {target:.2f}" if value >= target else f"{math.floor(value * 1000) / 1000:.3f}"
    return measured


def transfer_met(inputs: dict, ctx: DriverContext) -> dict[str, str]:
    """The expected measurement: every target met (the reference's figures are in the check's comment)."""
    return {label: f"at least {float(inputs['targets'][key]):.2f}" for key, label in _transfer_labels(inputs).items()}
