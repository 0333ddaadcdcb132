"""Drivers for adversarial attacks and adversarial training on small fixed models.

The model is rebuilt inside the driver from plain weight arrays, so the
student's function receives a real `nn.Module`. Each parameter starts with a
known stale `.grad`, which lets the drivers see whether an attack touched the
model and whether a training step forgot `optimizer.zero_grad()`.
"""
from __future__ import annotations

import math
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


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: tiny models train many times faster than with contended threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# Layers a trained model may be made of, with the settings that change what they compute, so
# the trusted process can rebuild exactly the student's model from plain data and measure it
# without running any of the student's code. Dropout is rebuilt in eval mode: the identity.
_PLAIN_LAYERS: dict[type, tuple[str, dict[str, type]]] = {
    nn.ReLU: ("ReLU", {}), nn.Tanh: ("Tanh", {}), nn.Sigmoid: ("Sigmoid", {}), nn.Identity: ("Identity", {}),
    nn.Dropout: ("Dropout", {}), nn.LeakyReLU: ("LeakyReLU", {"negative_slope": float}),
    nn.ELU: ("ELU", {"alpha": float}), nn.GELU: ("GELU", {"approximate": str}),
    nn.Flatten: ("Flatten", {"start_dim": int, "end_dim": int}),
}
_REBUILD = {name: (kind, settings) for kind, (name, settings) in _PLAIN_LAYERS.items()}
_STANDARD = "(Linear, ReLU, Tanh, Sigmoid, LeakyReLU, ELU, GELU, Dropout, Flatten)"
MAX_LAYERS = 64
MAX_PARAMETERS = 500_000   # the trusted side attacks the model: bound its cost (the reference has 4,810)


def describe_sequential(model: Any, name: str) -> list[dict]:
    """An nn.Sequential of standard layers as plain data (layer types, settings and weights)."""
    if type(model) is not nn.Sequential:
        raise BadOutput(f"{name} returned a {type(model).__name__}; return an nn.Sequential of standard layers "
                        + _STANDARD)
    if len(model) > MAX_LAYERS:
        raise BadOutput(f"{name} returned a model of more than {MAX_LAYERS} layers")
    layers = []
    for index, layer in enumerate(model):
        kind = type(layer)
        if kind is nn.Linear:
            bias = None if layer.bias is None else layer.bias.detach().clone()
            layers.append({"type": "Linear", "weight": layer.weight.detach().clone(), "bias": bias})
        elif kind in _PLAIN_LAYERS:
            label, settings = _PLAIN_LAYERS[kind]
            layers.append({"type": label, **{key: cast(getattr(layer, key)) for key, cast in settings.items()}})
        else:
            raise BadOutput(f"{name} returned a model whose layer {index} is a {kind.__name__}; use standard layers "
                            + _STANDARD)
    return layers


def rebuild_sequential(layers: Any, ctx: DriverContext) -> nn.Sequential:
    """The model described by describe_sequential, built from torch's own layers (trusted side)."""
    if not isinstance(layers, list) or not 0 < len(layers) <= MAX_LAYERS:
        raise BadOutput("the returned model has no layers")
    count = sum(value.data.size for layer in layers if isinstance(layer, dict)
                for value in (layer.get("weight"), layer.get("bias")) if isinstance(value, Array))
    if count > MAX_PARAMETERS:
        raise BadOutput(f"the returned model has {count:,} parameters; at most {MAX_PARAMETERS:,} are measured")
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
        elif kind in _REBUILD:
            module, settings = _REBUILD[kind]
            values = {key: layer.get(key) for key in settings}
            if not all(type(value) is cast for value, cast in zip(values.values(), settings.values())):
                raise BadOutput(f"a {kind} layer of the returned model has malformed settings")
            try:
                built.append(module(**values))
            except (TypeError, ValueError, RuntimeError) as exc:
                raise BadOutput(f"a {kind} layer of the returned model cannot be rebuilt: {exc}") from None
        else:
            raise BadOutput(f"the returned model has a layer of unknown type {kind!r}")
    return nn.Sequential(*built).eval()


@register("robust_training")
def robust_training(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "X_train", "y_train", "kwargs"}: a standard and an adversarially trained model.

    Returns both models as plain data; measure_robust_training evaluates them
    in the trusted process, on a test split the worker never sees.
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


# Robust accuracy, measured in the trusted process ------------------------------------------
# A model can look robust only because attacks that follow its own gradients fail: logits
# scaled by 1e4 saturate the softmax, so the gradient of cross-entropy is exactly 0 and FGSM
# leaves every image as it was; a Tanh or Sigmoid driven into saturation by huge weights does
# the same for any loss. That is gradient masking, not robustness (Athalye, Carlini & Wagner,
# "Obfuscated gradients give a false sense of security", 2018). The measurement follows their
# advice and Carlini et al., "On evaluating adversarial robustness" (2019):
#   * a margin loss on the scores (Carlini & Wagner), whose gradient's sign does not care how
#     the scores are scaled, besides FGSM on cross-entropy;
#   * PGD from random starts in the eps-ball, restarted for the examples not yet fooled;
#   * transfer attacks: inputs crafted on the grader's own models (passed in by the check),
#     which the student's model cannot mask because they never use its gradients;
#   * an eps sweep as a sanity check: at eps=0.5 every digit (pixels in [0, 1]) is within reach
#     of the same grey image, so no classifier can stay accurate there; an attack on the
#     model's own gradients that still leaves it accurate is not seeing the model.
# An example counts as robust only when it survives every attack (per-example worst case).
PGD_STEPS = 20
PGD_RESTARTS = 2
SANITY_EPS = 0.5


def margin(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The best other class's score minus the true class's, per example (> 0: misclassified)."""
    true = scores.gather(1, y[:, None]).squeeze(1)
    others = scores.masked_fill(F.one_hot(y, scores.shape[1]).bool(), float("-inf"))
    return others.amax(dim=1) - true


def _predicts(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(X).argmax(dim=1) == y


def fgsm_ce(model: nn.Module, X: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """FGSM on cross-entropy: the attack a masked model is built to defeat."""
    X_adv = X.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(X_adv), y), X_adv)
    return (X + eps * torch.nan_to_num(grad).sign()).clamp(0, 1).detach()


def pgd_margin(model: nn.Module, X: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator, *,
               steps: int = PGD_STEPS, restarts: int = PGD_RESTARTS) -> torch.Tensor:
    """L-inf PGD ascending the margin from uniform random starts; each restart attacks the examples not yet fooled."""
    alpha = 2.5 * eps / steps
    worst = X.detach().clone()
    todo = _predicts(model, X, y)
    for _ in range(restarts):
        index = todo.nonzero().squeeze(1)
        if index.numel() == 0:
            break
        x, t = X[index], y[index]
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = (x + eps * (2 * noise - 1)).clamp(0, 1)
        for _ in range(steps):
            x_adv.requires_grad_(True)
            (grad,) = torch.autograd.grad(margin(model(x_adv), t).sum(), x_adv)
            x_adv = x_adv.detach() + alpha * torch.nan_to_num(grad).sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
        fooled = ~_predicts(model, x_adv, t)
        worst[index[fooled]] = x_adv[fooled]
        todo[index[fooled]] = False
    return worst


def _accuracy(hits: torch.Tensor) -> float:
    return float(hits.double().mean())


def robustness(model: nn.Module, X: torch.Tensor, y: torch.Tensor, eps: float, transfer: list[torch.Tensor],
               generator: torch.Generator, *, sanity: bool = True) -> dict[str, float]:
    """Clean accuracy, accuracy under each attack at eps, robust accuracy (per-example worst case)
    and, with sanity, the highest accuracy left at SANITY_EPS by an attack on the model's own gradients."""
    clean = _predicts(model, X, y)
    survived = {"FGSM on cross-entropy": _predicts(model, fgsm_ce(model, X, y, eps), y),
                "PGD on the margin": _predicts(model, pgd_margin(model, X, y, eps, generator), y)}
    for k, X_transfer in enumerate(transfer):
        survived[f"transfer {k + 1}"] = _predicts(model, X_transfer, y)
    robust = clean.clone()
    for hits in survived.values():
        robust &= hits
    out = {"clean": _accuracy(clean), "robust": _accuracy(robust)}
    if sanity:
        out["own gradients at sanity eps"] = max(
            _accuracy(_predicts(model, fgsm_ce(model, X, y, SANITY_EPS), y)),
            _accuracy(_predicts(model, pgd_margin(model, X, y, SANITY_EPS, generator, restarts=1), y)))
    out.update({name: _accuracy(hits) for name, hits in survived.items()})
    return out


def robust_training_report(raw: Any, inputs: dict, ctx: DriverContext) -> dict[str, dict[str, float]]:
    """robustness() of both returned models on the trusted test split (inputs include the case's private part);
    the sanity check is made on the adversarially trained model."""
    if not isinstance(raw, dict) or set(raw) != {"standard", "adversarial"}:
        raise BadOutput("malformed result")
    X_test, y_test = ctx.tensor(inputs["X_test"]), ctx.tensor(inputs["y_test"])
    transfer = [ctx.tensor(x) for x in inputs["X_transfer"]]
    eps = float(inputs["eval_eps"])
    report = {}
    with one_thread():
        for label in ("standard", "adversarial"):
            model = rebuild_sequential(raw[label], ctx)
            params = list(model.parameters())
            dtype = params[0].dtype if params else X_test.dtype
            X = X_test.to(dtype)
            _check_scores(model, X, int(y_test.max()) + 1, label)
            report[label] = robustness(model, X, y_test, eps, [x.to(dtype) for x in transfer], ctx.generator(),
                                       sanity=label == "adversarial")
    return report


def _check_scores(model: nn.Module, X: torch.Tensor, classes: int, label: str) -> None:
    """The model must map (N, features) images to (N, classes) scores."""
    which = "adversarially trained" if label == "adversarial" else label
    try:
        with torch.no_grad():
            shape = tuple(model(X).shape)
    except (RuntimeError, IndexError, ValueError, TypeError) as exc:
        raise BadOutput(f"the {which} model cannot take images of shape {tuple(X.shape)}: {exc}") from None
    if shape != (len(X), classes):
        raise BadOutput(f"the {which} model maps images of shape {tuple(X.shape)} to scores of shape {shape}; "
                        f"expected {(len(X), classes)}")


# What measure_robust_training reports: (key, what a student reads, "at least" or "at most"), in
# the order a student should fix them; the targets come with the check.
def robust_training_checks(inputs: dict) -> list[tuple[str, str, str]]:
    """The measured figures of a robust_training case, each with its label and the side its target bounds."""
    eps = float(inputs["eval_eps"])
    transfer = " and transfer attacks" if inputs.get("X_transfer", True) else ""
    return [
        ("clean", "clean test accuracy of the standard model", "at least"),
        ("clean_adv", "clean test accuracy of the adversarially trained model", "at least"),
        ("sanity", "highest accuracy of the adversarially trained model under an attack on its own gradients "
                   f"(FGSM on cross-entropy, PGD on the margin) at eps={SANITY_EPS}, where every digit is within "
                   "reach of the same grey image", "at most"),
        ("gain", f"robust accuracy gain of adversarial=True over adversarial=False at eps={eps}", "at least"),
        ("robust", f"robust accuracy of the adversarially trained model at eps={eps}, the worst case over FGSM, "
                   f"PGD on the margin from random starts{transfer}", "at least"),
    ]


def _bound(side: str, target: float) -> str:
    return f"{side} {target:.2f}"


def measure_robust_training(raw: Any, inputs: dict, ctx: DriverContext) -> dict[str, str]:
    """Each figure of robust_training_report against its target: the bound itself when met, else the figure.

    So a missed target reads "got '0.134', expected 'at least 0.30'"; the figure is rounded
    towards the failing side, so that it never shows as the bound it misses.
    """
    report = robust_training_report(raw, inputs, ctx)
    standard, adversarial = report["standard"], report["adversarial"]
    figures = {"clean": standard["clean"], "clean_adv": adversarial["clean"],
               "sanity": adversarial["own gradients at sanity eps"],
               "gain": adversarial["robust"] - standard["robust"], "robust": adversarial["robust"]}
    measured = {}
    for key, label, side in robust_training_checks(inputs):
        target, value = float(inputs["targets"][key]), figures[key]
        met = value >= target if side == "at least" else value <= target
        shown = math.floor(value * 1000) / 1000 if side == "at least" else math.ceil(value * 1000) / 1000
        measured[label] = _bound(side, target) if met else f"{shown:.3f}"
    return measured


def robust_training_met(inputs: dict, ctx: DriverContext) -> dict[str, str]:
    """The expected measurement, every target met (an oracle: the reference's figures are in the check's comment)."""
    return {label: _bound(side, float(inputs["targets"][key])) for key, label, side in robust_training_checks(inputs)}
