"""Drivers whose results are checked by their properties: random augmentation, k-fold splits,
parameter groups, input saliency and a small encoder-decoder's loss.

A random output (a flipped and cropped batch, a shuffled split) cannot be compared value by
value with the reference's. These drivers call the student's function in the worker and
return its plain outputs; the measurements below decide the properties (is every image a
crop of its padded input, is the split a partition) in the trusted process, from that data
alone, so the worker cannot forge an observation.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from ..runner.wire import Array
from . import register
from .attacks import _check_model_untouched, _model_state, build_mlp
from .base import BadOutput, CheckProblem, DriverContext, InputModified, modified, snapshot


def _tensor_out(value: Any, name: str, what: str = "the result") -> torch.Tensor:
    if type(value) is not torch.Tensor:
        raise BadOutput(f"{name} returned {what} as a {type(value).__name__}; expected a torch.Tensor")
    return value.detach()


# augment_batch ---------------------------------------------------------------
def _augment(fn: Any, name: str, x: torch.Tensor, seed: int | None, inputs: dict, ctx: DriverContext) -> torch.Tensor:
    generator = ctx.generator(seed) if seed is not None else None
    out = fn(x, generator, flip_p=float(inputs["flip_p"]), pad=int(inputs["pad"]))
    return _tensor_out(out, name)


@register("augment")
def augment(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "x" (N, C, H, W), "flip_p", "pad", "seed"}: the output and x after the call."""
    fn, name = ctx.lookup(ns, inputs["fn"]), inputs["fn"]
    x = ctx.tensor(inputs["x"])
    out = _augment(fn, name, x, int(inputs["seed"]), inputs, ctx)
    return {"out": out, "x after the call": x}


@register("augment_seeded")
def augment_seeded(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """The same call under equal generator seeds (with torch's global RNG moved between), and another seed."""
    fn, name = ctx.lookup(ns, inputs["fn"]), inputs["fn"]
    seed = int(inputs["seed"])
    torch.manual_seed(1)
    first = _augment(fn, name, ctx.tensor(inputs["x"]), seed, inputs, ctx)
    torch.manual_seed(2)  # if the draws ignored `generator`, this would change them
    again = _augment(fn, name, ctx.tensor(inputs["x"]), seed, inputs, ctx)
    other = _augment(fn, name, ctx.tensor(inputs["x"]), seed + 1, inputs, ctx)
    return {"first": first, "again": again, "other": other}


def _values(raw: Any, what: str) -> np.ndarray:
    if not isinstance(raw, Array):
        raise BadOutput(f"{what} is not a tensor")
    return raw.data.astype(np.float64)


def crop_offsets(x: np.ndarray, out: np.ndarray, pad: int) -> np.ndarray:
    """(N, 2 * pad + 1, 2 * pad + 1) bool: out[i] equals x[i] zero-padded by pad and cropped at (dy, dx)."""
    H, W = x.shape[-2:]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, (H, W), axis=(2, 3))      # (N, C, 2p+1, 2p+1, H, W)
    return (windows == out[:, :, None, None]).all(axis=(1, 4, 5))


AUG_SHAPE = "shape and dtype of the output"
AUG_INPUT = "x is left unchanged"
AUG_CROP = "every image is a crop of its zero-padded input, flipped left-right or not"
AUG_UPRIGHT = "no image is flipped upside down"
AUG_RATE = "fraction of images flipped"
AUG_SHIFTS = "every shift from -pad to pad occurs, across and down"
AUG_SAME = "the same generator seed gives the same output"
AUG_OTHER = "another generator seed gives another output"


def measure_augment(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """The properties of one augmented batch; with inputs["rate"], also the flip rate and the shifts seen."""
    if not isinstance(raw, dict) or set(raw) != {"out", "x after the call"}:
        raise BadOutput("malformed result")
    x, pad = _values(inputs["x"], "x"), int(inputs["pad"])
    out = _values(raw["out"], "the output")
    after = _values(raw["x after the call"], "x")
    found = {AUG_SHAPE: f"{tuple(out.shape)}, {raw['out'].dtype}", AUG_INPUT: bool(np.array_equal(after, x))}
    if out.shape != x.shape:
        return {**found, AUG_CROP: False}
    plain = crop_offsets(x, out, pad)
    mirrored = crop_offsets(x[..., ::-1], out, pad)
    upside_down = crop_offsets(x[..., ::-1, :], out, pad).any(axis=(1, 2))
    either = plain | mirrored
    ok = either.any(axis=(1, 2))
    found[AUG_CROP] = bool(ok.all())
    found[AUG_UPRIGHT] = not bool((upside_down & ~ok).any())
    if inputs.get("rate"):
        flipped = mirrored.any(axis=(1, 2)) & ~plain.any(axis=(1, 2))
        found[AUG_RATE] = float(flipped.mean())
        where = np.argwhere(either)                                # (image, dy, dx) of every match
        every = set(range(2 * pad + 1))
        found[AUG_SHIFTS] = set(where[:, 1].tolist()) == every and set(where[:, 2].tolist()) == every
    return found


def measure_augment_seeded(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Whether equal seeds give equal outputs and another seed another one."""
    if not isinstance(raw, dict) or set(raw) != {"first", "again", "other"}:
        raise BadOutput("malformed result")
    v = {k: _values(a, "the output") for k, a in raw.items()}
    return {AUG_SAME: bool(np.array_equal(v["first"], v["again"])),
            AUG_OTHER: not np.array_equal(v["first"], v["other"])}


# k_fold_indices --------------------------------------------------------------
def _folds(fn: Any, name: str, n: int, k: int, seed: int) -> list[torch.Tensor]:
    folds = fn(n, k, torch.Generator().manual_seed(seed))   # indices live on the CPU
    if not isinstance(folds, (list, tuple)):
        raise BadOutput(f"{name} returned a {type(folds).__name__}; expected a list of k tensors of indices")
    return [_tensor_out(f, name, f"fold {i}") for i, f in enumerate(folds)]


@register("kfold")
def kfold(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "n", "k", "seed"}: the folds for a seed, again for the same seed, and for another."""
    fn, name = ctx.lookup(ns, inputs["fn"]), inputs["fn"]
    n, k, seed = int(inputs["n"]), int(inputs["k"]), int(inputs["seed"])
    torch.manual_seed(1)
    first = _folds(fn, name, n, k, seed)
    torch.manual_seed(2)
    return {"first": first, "again": _folds(fn, name, n, k, seed), "other": _folds(fn, name, n, k, seed + 1)}


FOLD_COUNT = "number of folds"
FOLD_INTS = "every fold is a 1-d int64 tensor"
FOLD_PARTITION = "every index 0..n-1 is in exactly one fold"
FOLD_SIZES = "fold sizes differ by at most one"
FOLD_SHUFFLED = "the indices are shuffled"
FOLD_SAME = "the same generator seed gives the same folds"
FOLD_OTHER = "another generator seed gives other folds"
SHUFFLE_MIN_N = 20   # 20! > 2e18: a correct shuffle repeats itself or the identity less than once in 1e18 runs


def measure_kfold(raw: Any, inputs: dict, ctx: DriverContext) -> dict:
    """Is the split a partition into k folds of near-equal size, shuffled by the generator."""
    if not isinstance(raw, dict) or set(raw) != {"first", "again", "other"}:
        raise BadOutput("malformed result")
    n = int(inputs["n"])
    runs = {}
    for key, folds in raw.items():
        if not isinstance(folds, list) or not all(isinstance(f, Array) for f in folds):
            raise BadOutput("the folds are not a list of tensors")
        runs[key] = folds
    folds = runs["first"]
    ints = all(f.dtype == "int64" and f.data.ndim == 1 for f in folds)
    flat = np.concatenate([f.data.reshape(-1) for f in folds]) if folds else np.zeros(0)
    sizes = [f.data.size for f in folds]
    same = len(runs["again"]) == len(folds) and all(np.array_equal(a.data, b.data) for a, b in zip(folds, runs["again"]))
    other = len(runs["other"]) == len(folds) and all(np.array_equal(a.data, b.data) for a, b in zip(folds, runs["other"]))
    found = {FOLD_COUNT: len(folds), FOLD_INTS: ints,
             FOLD_PARTITION: bool(flat.size == n and np.array_equal(np.sort(flat), np.arange(n))),
             FOLD_SIZES: bool(sizes) and max(sizes) - min(sizes) <= 1, FOLD_SAME: same}
    if n >= SHUFFLE_MIN_N:   # a fair shuffle of fewer indices is too often the identity, or a repeat
        found.update({FOLD_SHUFFLED: not np.array_equal(flat, np.arange(n)), FOLD_OTHER: not other})
    return found


# decay_parameter_groups --------------------------------------------------------
# Layers a model described as plain data may hold: (kind, positional arguments, keyword arguments).
_LAYERS = {
    "Linear": nn.Linear, "Conv2d": nn.Conv2d, "Conv1d": nn.Conv1d, "Embedding": nn.Embedding,
    "BatchNorm1d": nn.BatchNorm1d, "BatchNorm2d": nn.BatchNorm2d, "LayerNorm": nn.LayerNorm,
    "GroupNorm": nn.GroupNorm, "ReLU": nn.ReLU, "Flatten": nn.Flatten, "Dropout": nn.Dropout,
}


def build_layers(spec: Any) -> nn.Module:
    """nn.Sequential from [[kind, args, kwargs] | ["Sequential", [...]], ...], kinds from _LAYERS only."""
    layers = []
    for item in spec:
        kind = item[0]
        if kind == "Sequential":
            layers.append(build_layers(item[1]))
            continue
        if kind not in _LAYERS:
            raise ValueError(f"unknown layer kind {kind!r}")
        args = [tuple(a) if isinstance(a, list) else a for a in item[1]]
        layers.append(_LAYERS[kind](*args, **dict(item[2])))
    return nn.Sequential(*layers)


NOT_A_PARAMETER = "(not a parameter of the model)"


@register("param_groups")
def param_groups(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "layers"}: the names of the parameters in each returned group, sorted."""
    fn, name = ctx.lookup(ns, inputs["fn"]), inputs["fn"]
    model = build_layers(inputs["layers"]).to(ctx.device)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = fn(model)
    if not isinstance(groups, (tuple, list)) or len(groups) != 2:
        raise BadOutput(f"{name} returned a {type(groups).__name__}; expected a pair (decay, no_decay) of lists")
    found = {}
    for key, group in zip(("decay", "no_decay"), groups):
        try:
            items = list(group)
        except TypeError:
            raise BadOutput(f"{name} returned {key} as a {type(group).__name__}; expected a list of parameters") from None
        found[key] = sorted(names.get(id(p), NOT_A_PARAMETER) for p in items)
    return found


# input_saliency ----------------------------------------------------------------
@register("saliency")
def saliency(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> torch.Tensor:
    """inputs: {"fn", "model": MLP weights, "x", "target"}: the student's saliency; the model must stay as it was."""
    fn, name = ctx.lookup(ns, inputs["fn"]), inputs["fn"]
    model = build_mlp(inputs["model"], ctx)
    x, target = ctx.tensor(inputs["x"]), ctx.tensor(inputs["target"])
    state = _model_state(model)
    before = snapshot([x, target])
    out = fn(model, x, target)
    if modified(before, [x, target], ["x", "target"]):
        raise InputModified(f"{name} modified `x` or `target` in place; work on a copy such as `x.clone()`")
    _check_model_untouched(name, model, state)
    out = _tensor_out(out, name)
    if out.shape != x.shape:
        raise BadOutput(f"{name} returned shape {tuple(out.shape)}; expected x's shape {tuple(x.shape)}")
    return out


# seq2seq_loss ------------------------------------------------------------------
_MODULES = {"Embedding": nn.Embedding, "Linear": nn.Linear, "GRUCell": nn.GRUCell, "RNNCell": nn.RNNCell,
            "LSTMCell": nn.LSTMCell}


def build_module(kind: str, args: list, state: Mapping[str, Any], ctx: DriverContext) -> nn.Module:
    """A module of a whitelisted kind whose parameters hold the given arrays (by name), on ctx's device."""
    if kind not in _MODULES:
        raise ValueError(f"unknown module kind {kind!r}")
    values = {k: ctx.tensor(v) for k, v in state.items()}
    dtype = next(iter(values.values())).dtype
    module = _MODULES[kind](*args).to(device=ctx.device, dtype=dtype)
    with torch.no_grad():
        for key, param in module.named_parameters():
            param.copy_(values[key])
    return module


@register("modules_loss")
def modules_loss(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"fn", "modules": [[kind, args, state], ...], "args", "kwargs"}.

    Calls fn(*modules, *args, **kwargs), which must return a 0-d loss, backpropagates it,
    and returns the loss and every module's parameter gradients.
    """
    fn, name = ctx.lookup(ns, inputs["fn"]), inputs["fn"]
    modules = [build_module(kind, args, state, ctx) for kind, args, state in inputs["modules"]]
    args = [ctx.convert(a) for a in inputs.get("args", [])]
    kwargs = {k: ctx.convert(v) for k, v in inputs.get("kwargs", {}).items()}
    params = [p for m in modules for p in m.parameters()]
    before, values = snapshot(args), snapshot(params)
    loss = fn(*modules, *args, **kwargs)
    if modified(before, args, [f"argument {i + len(modules) + 1}" for i in range(len(args))]):
        raise InputModified(f"{name} modified one of its tensor arguments in place")
    if modified(values, params, ["a parameter"] * len(params)):
        raise InputModified(f"{name} changed the modules' parameters; compute the loss only")
    if type(loss) is not torch.Tensor or loss.dim() != 0:
        raise BadOutput(f"{name} returned {type(loss).__name__ if type(loss) is not torch.Tensor else 'a tensor of shape ' + str(tuple(loss.shape))}; expected a 0-d loss tensor")
    if not loss.requires_grad:
        raise CheckProblem(f"the loss of {name} does not depend on the modules' parameters through autograd "
                           "(no .detach(), .item() or torch.no_grad() on the way)")
    if any(p.grad is not None for p in params):
        raise CheckProblem(f"{name} already backpropagated: return the loss and leave loss.backward() to the caller")
    loss.backward()
    grads = [{k: (p.grad if p.grad is not None else torch.zeros_like(p)) for k, p in m.named_parameters()}
             for m in modules]
    return {"loss": loss.detach(), "gradients": grads}
