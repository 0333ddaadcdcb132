"""Random expression graphs for a scalar autograd engine (Unit 2's `Value`).

`build_graph` writes each graph with Python operators and the methods
`.exp()`, `.tanh()` and `.relu()` only, so the very same code builds it from a
student's `Value` leaves (in the worker) and from torch tensors that require a
gradient (in the oracle, trusted side). The driver only reads `.data` and
`.grad`; the expected gradients come from torch.autograd.
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable, Mapping

import torch

from . import register
from .base import BadOutput, DriverContext

Leaf = Callable[[float], Any]

# One graph per operation: (expression label, leaf ranges, function of the leaves).
# The result is multiplied by a number so the upstream gradient is not 1.
SINGLE_OPS: dict[str, tuple[str, tuple[tuple[float, float], ...], Callable[..., Any]]] = {
    "add": ("a + b", ((-2, 2), (-2, 2)), lambda a, b: a + b),
    "sub": ("a - b", ((-2, 2), (-2, 2)), lambda a, b: a - b),
    "mul": ("a * b", ((-2, 2), (-2, 2)), lambda a, b: a * b),
    "div": ("a / b", ((-2, 2), (0.5, 2)), lambda a, b: a / b),
    "pow": ("a ** 3", ((-2, 2),), lambda a: a ** 3),
    "pow_fraction": ("a ** -0.5", ((0.5, 2),), lambda a: a ** -0.5),
    "neg": ("-a", ((-2, 2),), lambda a: -a),
    "exp": ("a.exp()", ((-2, 2),), lambda a: a.exp()),
    "tanh": ("a.tanh()", ((-2, 2),), lambda a: a.tanh()),
    "relu": ("a.relu() + b.relu()", ((0.2, 2), (-2, -0.2)), lambda a, b: a.relu() + b.relu()),
    "radd": ("2.5 + a", ((-2, 2),), lambda a: 2.5 + a),
    "rsub": ("2.5 - a", ((-2, 2),), lambda a: 2.5 - a),
    "rmul": ("2.5 * a", ((-2, 2),), lambda a: 2.5 * a),
    "rdiv": ("2.5 / a", ((0.5, 2),), lambda a: 2.5 / a),
    "number_right": ("(a + 1) * 3 - 0.5", ((-2, 2),), lambda a: (a + 1) * 3 - 0.5),
}

# Graphs in which one node feeds several others, so its gradient must accumulate.
REUSE: dict[str, tuple[int, Callable[..., Any]]] = {
    "a * a": (1, lambda a: a * a),
    "a + a": (1, lambda a: a + a),
    "a * b + a": (2, lambda a, b: a * b + a),
    "(a * b) * (a + b)": (2, lambda a, b: (a * b) * (a + b)),
    "c = a * b; c + c.tanh() + c * a": (2, lambda a, b: _diamond(a, b)),
}


def _diamond(a: Any, b: Any) -> Any:
    c = a * b
    return c + c.tanh() + c * a


def _leaves(rnd: random.Random, ranges: tuple[tuple[float, float], ...], leaf: Leaf) -> list[Any]:
    return [leaf(round(rnd.uniform(lo, hi), 4)) for lo, hi in ranges]


def _names(count: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(count)]


def build_graph(kind: str, seed: int, leaf: Leaf) -> tuple[dict[str, Any], Any]:
    """Build the graph `kind` from a seed with `leaf(x)` making the inputs.

    Returns (named nodes, root). The structure depends on the seed only, never
    on computed values, so a Value graph and a torch graph are the same graph.
    """
    rnd = random.Random(seed)
    if kind.startswith("op:"):
        label, ranges, fn = SINGLE_OPS[kind[3:]]
        nodes = dict(zip(_names(len(ranges)), _leaves(rnd, ranges, leaf)))
        out = fn(*nodes.values())
        nodes["out"] = out
        return nodes, out * 1.5
    if kind.startswith("reuse:"):
        arity, fn = REUSE[kind[6:]]
        nodes = dict(zip(_names(arity), _leaves(rnd, ((-1.5, 1.5),) * arity, leaf)))
        out = fn(*nodes.values())
        nodes["out"] = out
        return nodes, out * 0.75
    if kind == "neuron":
        return _neuron(rnd, leaf)
    if kind == "layer":
        return _layer(rnd, leaf)
    if kind == "random":
        return _random_graph(rnd, leaf)
    raise ValueError(f"unknown graph kind {kind!r}")


def _neuron(rnd: random.Random, leaf: Leaf) -> tuple[dict[str, Any], Any]:
    """tanh(x1*w1 + x2*w2 + x3*w3 + b), the neuron of the lecture."""
    nodes: dict[str, Any] = {}
    total = None
    for i in range(1, 4):
        x, w = leaf(round(rnd.uniform(-2, 2), 4)), leaf(round(rnd.uniform(-1, 1), 4))
        nodes[f"x{i}"], nodes[f"w{i}"] = x, w
        nodes[f"x{i}*w{i}"] = term = x * w
        total = term if total is None else total + term
    nodes["b"] = leaf(round(rnd.uniform(-1, 1), 4))
    nodes["n"] = n = total + nodes["b"]
    nodes["o"] = o = n.tanh()
    return nodes, o


def _layer(rnd: random.Random, leaf: Leaf) -> tuple[dict[str, Any], Any]:
    """Two inputs, a hidden layer of three tanh neurons, one ReLU output: inputs are reused."""
    xs = [leaf(round(rnd.uniform(-2, 2), 4)) for _ in range(2)]
    nodes: dict[str, Any] = {"x1": xs[0], "x2": xs[1]}
    hidden = []
    for j in range(1, 4):
        ws = [leaf(round(rnd.uniform(-1, 1), 4)) for _ in range(2)]
        b = leaf(round(rnd.uniform(-0.5, 0.5), 4))
        nodes.update({f"w{j}1": ws[0], f"w{j}2": ws[1], f"b{j}": b})
        h = (xs[0] * ws[0] + xs[1] * ws[1] + b).tanh()
        nodes[f"h{j}"] = h
        hidden.append(h)
    vs = [leaf(round(rnd.uniform(-1, 1), 4)) for _ in range(3)]
    nodes.update({f"v{j}": v for j, v in enumerate(vs, 1)})
    out = (hidden[0] * vs[0] + hidden[1] * vs[1] + hidden[2] * vs[2] + 0.5).relu()
    nodes["out"] = out
    return nodes, (out - 1) ** 2


def _random_graph(rnd: random.Random, leaf: Leaf) -> tuple[dict[str, Any], Any]:
    """Four leaves and eight random operations on earlier nodes (often the same node twice)."""
    pool = [leaf(round(rnd.uniform(-1.5, 1.5), 4)) for _ in range(4)]
    nodes = dict(zip(_names(4), pool))
    for step in range(1, 9):
        x, y = rnd.choice(pool), rnd.choice(pool)
        op = rnd.choice(("add", "sub", "mul", "div", "pow", "neg", "exp", "tanh", "relu", "number"))
        if op == "add":
            z = x + y
        elif op == "sub":
            z = x - y
        elif op == "mul":
            z = x * y.tanh()
        elif op == "div":
            z = x / (y * y + 1)            # never divides by a small number
        elif op == "pow":
            z = x.tanh() ** rnd.choice((2, 3))
        elif op == "neg":
            z = -x
        elif op == "exp":
            z = x.tanh().exp()             # bounded, so nothing overflows
        elif op == "tanh":
            z = x.tanh()
        elif op == "relu":
            z = (x + 0.1).relu()
        else:
            z = 0.5 * x + 1.5 - 2.0 / (y * y + 1)
        nodes[f"n{step}"] = z
        pool.append(z)
    root = pool[-1] + pool[-2] * 0.5 + pool[-3].tanh()
    return nodes, root


GRAPH_KINDS = [f"op:{k}" for k in SINGLE_OPS] + [f"reuse:{k}" for k in REUSE] + ["neuron", "layer", "random"]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or value is None:
        raise BadOutput(f"{what} is {value!r}; expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise BadOutput(f"{what} is a {type(value).__name__}; expected a Python float") from None
    return number


def graph_labels(kind: str, seed: int, count: int) -> list[str]:
    """Names of the graphs of one case, as feedback shows them."""
    if kind.startswith("op:"):
        return [SINGLE_OPS[kind[3:]][0] + " (times 1.5)"]
    if kind.startswith("reuse:"):
        return [kind[6:]]
    return [f"{kind} graph {i + 1}" for i in range(count)]


@register("value_graph")
def value_graph(ns: Mapping[str, Any], inputs: dict, ctx: DriverContext) -> dict:
    """inputs: {"kind": str, "seed": int, "count": int}; returns data and grad of every node."""
    Value = ctx.lookup(ns, "Value")
    kind, seed, count = inputs["kind"], int(inputs["seed"]), int(inputs.get("count", 1))
    out: dict[str, Any] = {}
    for i, label in enumerate(graph_labels(kind, seed, count)):
        nodes, root = build_graph(kind, seed + i, Value)
        root.backward()
        out[label] = {
            "value": _number(root.data, "root.data"),
            "data": {name: _number(node.data, f"{name}.data") for name, node in nodes.items()},
            "grad": {name: _number(node.grad, f"{name}.grad") for name, node in nodes.items()},
        }
    return out


def torch_graph_oracle(inputs: dict, ctx: DriverContext) -> dict:
    """The same graphs built from float64 torch tensors; gradients from torch.autograd."""

    def leaf(x: float) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.float64, device=ctx.device, requires_grad=True)

    kind, seed, count = inputs["kind"], int(inputs["seed"]), int(inputs.get("count", 1))
    out: dict[str, Any] = {}
    for i, label in enumerate(graph_labels(kind, seed, count)):
        nodes, root = build_graph(kind, seed + i, leaf)
        for node in nodes.values():
            if not node.is_leaf:
                node.retain_grad()
        root.backward()
        out[label] = {
            "value": float(root.item()),
            "data": {name: float(node.item()) for name, node in nodes.items()},
            "grad": {name: 0.0 if node.grad is None else float(node.grad.item()) for name, node in nodes.items()},
        }
        assert all(math.isfinite(v) for v in out[label]["grad"].values())
    return out
