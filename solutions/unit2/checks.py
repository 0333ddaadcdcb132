"""Checks for Unit 2: autograd graphs, backward passes, optimiser trajectories, clipping."""
import numpy as np
import torch
import torch.nn.functional as F

from grader.compare import patterns
from grader.drivers.value_graph import GRAPH_KINDS, torch_graph_oracle
from grader.spec import Case, Exercise, Mistake, call_inputs

from . import mistakes as m

DTYPES = (np.float32, np.float64)
NAME = {np.float32: "float32", np.float64: "float64"}
# Forbidden shortcuts are families (grader/static/families.py): every spelling of the operation.
AUTOGRAD = ("autograd",)  # loss.backward(), torch.autograd.*, torch.func.*, functorch
OPTIMISERS = ("optimiser", "foreach")  # anything under torch.optim, torch._fused_adam_, torch._foreach_*
OPTIMISER_HINT = "write the update with tensor arithmetic"


def _normal(rng, shape, dtype=np.float64, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# Value -----------------------------------------------------------------------
def value_cases(rng):
    cases = []
    for kind in GRAPH_KINDS:
        seed = int(rng.integers(1 << 30))
        if kind.startswith("op:"):
            name = f"one operation: {kind[3:]}"
        elif kind.startswith("reuse:"):
            name = f"a node used twice: {kind[6:]}"
        else:
            name = {"neuron": "tanh neurons (3 inputs)", "layer": "a layer of 3 tanh neurons and a ReLU output",
                    "random": "random graphs with reused nodes"}[kind]
        count = {"neuron": 3, "layer": 3, "random": 15}.get(kind, 1)
        cases.append(Case(name, {"kind": kind, "seed": seed, "count": count},
                          driver="value_graph", oracle=torch_graph_oracle))
    return cases


# affine and ReLU layers ------------------------------------------------------
def _affine_args(rng, n, d, mm, dtype):
    return {"x": _normal(rng, (n, d), dtype), "w": _normal(rng, (d, mm), dtype), "b": _normal(rng, (mm,), dtype)}


def affine_forward_oracle(inputs, ctx):
    x, w, b = (ctx.convert(a) for a in inputs["args"])
    return F.linear(x, w.T, b)


def affine_forward_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, d, mm in ((4, 3, 5), (10, 6, 2)):
            cases.append(Case(f"x ({n}, {d}), w ({d}, {mm}), {NAME[dtype]}",
                              call_inputs("affine_forward", _affine_args(rng, n, d, mm, dtype)),
                              oracle=affine_forward_oracle))
    cases.append(Case("a batch of one", call_inputs("affine_forward", _affine_args(rng, 1, 4, 3, np.float64)),
                      oracle=affine_forward_oracle))
    return cases


def affine_backward_oracle(inputs, ctx):
    dout, x, w, b = (ctx.convert(a) for a in inputs["args"])
    x, w, b = (t.clone().requires_grad_(True) for t in (x, w, b))
    out = x @ w + b
    return torch.autograd.grad(out, (x, w, b), dout)


def affine_backward_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, d, mm in ((4, 3, 5), (8, 6, 6)):
            args = _affine_args(rng, n, d, mm, dtype)
            args = {"dout": _normal(rng, (n, mm), dtype), **args}
            cases.append(Case(f"x ({n}, {d}), w ({d}, {mm}), {NAME[dtype]}", call_inputs("affine_backward", args),
                              oracle=affine_backward_oracle))
    args = {"dout": _normal(rng, (1, 2)), **_affine_args(rng, 1, 3, 2, np.float64)}
    cases.append(Case("a batch of one", call_inputs("affine_backward", args), oracle=affine_backward_oracle))
    return cases


def relu_backward_oracle(inputs, ctx):
    dout, x = (ctx.convert(a) for a in inputs["args"])
    x = x.clone().requires_grad_(True)
    (dx,) = torch.autograd.grad(torch.relu(x), x, dout)
    return dx


def relu_backward_cases(rng):
    cases = []
    for dtype in DTYPES:
        x = _normal(rng, (5, 7), dtype)
        cases.append(Case(f"shape (5, 7), {NAME[dtype]}",
                          call_inputs("relu_backward", {"dout": _normal(rng, (5, 7), dtype), "x": x}),
                          oracle=relu_backward_oracle))
    x = _normal(rng, (4, 4))
    x[::2, 1::2] = 0.0
    cases.append(Case("inputs exactly 0 (the gradient there is 0)",
                      call_inputs("relu_backward", {"dout": _normal(rng, (4, 4)), "x": x}),
                      oracle=relu_backward_oracle))
    cases.append(Case("a vector of shape (6,)",
                      call_inputs("relu_backward", {"dout": _normal(rng, (6,)), "x": _normal(rng, (6,))}),
                      oracle=relu_backward_oracle))
    return cases


# mlp_loss_and_grads ----------------------------------------------------------
def mlp_oracle(inputs, ctx):
    """Loss from F.cross_entropy and gradients from autograd."""
    X, y, params = (ctx.convert(a) for a in inputs["args"])
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    h = torch.relu(X @ leaves["W1"] + leaves["b1"])
    loss = F.cross_entropy(h @ leaves["W2"] + leaves["b2"], y)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return loss.detach(), dict(zip(leaves, grads))


def mlp_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, d, h, c in ((6, 4, 5, 3), (20, 8, 16, 10)):
            params = {"W1": _normal(rng, (d, h), dtype), "b1": _normal(rng, (h,), dtype, 0.1),
                      "W2": _normal(rng, (h, c), dtype), "b2": _normal(rng, (c,), dtype, 0.1)}
            args = {"X": _normal(rng, (n, d), dtype), "y": rng.integers(0, c, n), "params": params}
            cases.append(Case(f"{n} samples, {d} features, {h} hidden, {c} classes, {NAME[dtype]}",
                              call_inputs("mlp_loss_and_grads", args), driver="call_nested", oracle=mlp_oracle))
    params = {"W1": _normal(rng, (3, 4), scale=8.0), "b1": np.zeros(4),
              "W2": _normal(rng, (4, 3), scale=8.0), "b2": np.zeros(3)}
    args = {"X": _normal(rng, (5, 3), scale=4.0), "y": rng.integers(0, 3, 5), "params": params}
    cases.append(Case("large scores (subtract the max before exp)", call_inputs("mlp_loss_and_grads", args),
                      driver="call_nested", oracle=mlp_oracle))
    params = {"W1": _normal(rng, (3, 4), scale=8.0), "b1": np.zeros(4),
              "W2": _normal(rng, (4, 3), scale=8.0), "b2": np.zeros(3)}
    args = {"X": _normal(rng, (5, 3), scale=30.0), "y": rng.integers(0, 3, 5), "params": params}
    cases.append(Case("scores in the thousands (exp overflows even in float64 without the max)",
                      call_inputs("mlp_loss_and_grads", args), driver="call_nested", oracle=mlp_oracle))
    return cases


LOG_SUM_EXP = ("take log-probabilities with log-sum-exp: log p = s - max - log(sum(exp(s - max))); "
               "log(softmax(s)) is -inf once a probability underflows to 0 (scores that differ by more than ~745)")


# optimisers ------------------------------------------------------------------
TORCH_STATE = {"sgd_momentum_step": {"v": "momentum_buffer"},
               "rmsprop_step": {"cache": "square_avg"},
               "adam_step": {"m": "exp_avg", "v": "exp_avg_sq"}}


def _torch_optimizer(fn, param, kwargs):
    lr = kwargs.get("lr", 1e-3)
    if fn == "sgd_momentum_step":
        beta = kwargs.get("beta", 0.9)
        return torch.optim.SGD([param], lr=lr, momentum=beta, dampening=beta)
    if fn == "rmsprop_step":
        return torch.optim.RMSprop([param], lr=lr, alpha=kwargs.get("decay", 0.9), eps=kwargs.get("eps", 1e-8))
    return torch.optim.Adam([param], lr=lr, betas=(kwargs.get("beta1", 0.9), kwargs.get("beta2", 0.999)),
                            eps=kwargs.get("eps", 1e-8))


def torch_optim_oracle(inputs, ctx):
    """The same trajectory from torch.optim, its state set to the step's starting state."""
    fn = inputs["fn"]
    param = torch.nn.Parameter(ctx.tensor(inputs["w"]))
    optimizer = _torch_optimizer(fn, param, inputs["kwargs"])
    names = TORCH_STATE[fn]
    state = {names[k]: ctx.tensor(v) for k, v in inputs["state"].items()}
    if fn != "sgd_momentum_step":
        state["step"] = torch.tensor(float((inputs.get("t0") or 1) - 1))
    optimizer.state[param] = state
    history = {"w": [], **{k: [] for k in names}}
    for g in ctx.tensor(inputs["grads"]):
        param.grad = g.clone()
        optimizer.step()
        history["w"].append(param.detach().clone())
        for k, torch_name in names.items():
            history[k].append(optimizer.state[param][torch_name].clone())
    return {f"{k} after each step": torch.stack(v) for k, v in history.items()}


def _optim_inputs(fn, w, grads, state, t0=None, **kwargs):
    return {"fn": fn, "w": w, "grads": grads, "state": state, "t0": t0, "kwargs": kwargs}


def optimiser_cases(fn, state_names, rng, oracle, hyper, small_eps=None, t0=None):
    """Long trajectories from a zero state, one from a non-zero state, and one that needs eps right."""
    cases = []
    for dtype, shape, steps in ((np.float64, (5,), 30), (np.float32, (3, 4), 20)):
        w = _normal(rng, shape, dtype)
        grads = _normal(rng, (steps, *shape), dtype)
        state = {k: np.zeros(shape, dtype) for k in state_names}
        cases.append(Case(f"{steps} steps on shape {shape}, {NAME[dtype]}, {hyper[0]}",
                          _optim_inputs(fn, w, grads, state, t0, **hyper[1]), driver="optim_steps", oracle=oracle))
    w = _normal(rng, (6,))
    grads = _normal(rng, (10, 6), scale=3.0)
    state = {k: np.abs(_normal(rng, (6,))) for k in state_names}
    later = None if t0 is None else 25
    cases.append(Case("10 steps from a non-zero state" + (", t starting at 25" if later else ""),
                      _optim_inputs(fn, w, grads, state, later, **hyper[2]), driver="optim_steps", oracle=oracle))
    if small_eps:
        grads = _normal(rng, (15, 4), scale=0.01)
        state = {k: np.zeros(4) for k in state_names}
        cases.append(Case(f"small gradients and eps={small_eps['eps']} (where eps goes matters)",
                          _optim_inputs(fn, _normal(rng, (4,)), grads, state, t0, **small_eps),
                          driver="optim_steps", oracle=oracle))
    return cases


def sgd_cases(rng):
    return optimiser_cases("sgd_momentum_step", ("v",), rng, torch_optim_oracle,
                           ("lr=0.1", {"lr": 0.1}, {"lr": 0.05, "beta": 0.5}))


def adagrad_cases(rng):
    # torch.optim.Adagrad puts eps outside the square root; this exercise puts it inside, so the reference is the oracle
    return optimiser_cases("adagrad_step", ("cache",), rng, None, ("lr=0.1", {"lr": 0.1}, {"lr": 0.5, "eps": 1e-6}),
                           small_eps={"lr": 0.1, "eps": 1e-2})


def rmsprop_cases(rng):
    return optimiser_cases("rmsprop_step", ("cache",), rng, torch_optim_oracle,
                           ("lr=0.01", {"lr": 0.01}, {"lr": 0.05, "decay": 0.99, "eps": 1e-6}),
                           small_eps={"lr": 0.01, "eps": 1e-2})


def adam_cases(rng):
    return optimiser_cases("adam_step", ("m", "v"), rng, torch_optim_oracle,
                           ("default hyper-parameters", {},
                            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
                           small_eps={"lr": 0.01, "eps": 1e-2}, t0=1)


# schedules and clipping ------------------------------------------------------
def lr_cases(rng):
    fixed = ((0.1, 0.5, 0), (0.1, 0.5, 1), (0.1, 0.5, 10), (1.0, 0.01, 250), (0.03, 2.0, 7))
    drawn = [(round(float(rng.uniform(0.001, 1.0)), 4), round(float(rng.uniform(0.01, 2.0)), 3), int(epoch))
             for epoch in (rng.integers(1, 5), rng.integers(5, 50), rng.integers(50, 500))]
    cases = []
    for index, (lr0, k, epoch) in enumerate([*fixed, *drawn]):
        cases.append(Case(f"lr0={lr0}, decay_rate={k}, epoch={epoch}",
                          call_inputs("lr_time_decay", {"lr0": lr0, "decay_rate": k, "epoch": epoch}),
                          public_only=index < len(fixed)))   # fixed examples: left out of the hidden cases
    return cases


def _grad_list(rng, dtype, scale):
    return [_normal(rng, s, dtype, scale) for s in ((3, 4), (4,), (2, 2, 3))]


def clip_value_oracle(inputs, ctx):
    grads, clip = ctx.convert(inputs["args"][0]), inputs["args"][1]
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_value_(params, clip)
    return [p.grad for p in params]


def clip_value_cases(rng):
    cases = []
    for dtype in DTYPES:
        cases.append(Case(f"three tensors, clip 0.5, {NAME[dtype]}",
                          call_inputs("clip_grad_value", {"grads": _grad_list(rng, dtype, 1.0), "clip": 0.5}),
                          driver="call_nested", oracle=clip_value_oracle))
    cases.append(Case("nothing to clip (clip 100)",
                      call_inputs("clip_grad_value", {"grads": _grad_list(rng, np.float64, 1.0), "clip": 100.0}),
                      driver="call_nested", oracle=clip_value_oracle))
    cases.append(Case("one tensor, clip 2",
                      call_inputs("clip_grad_value", {"grads": [_normal(rng, (10,), scale=3.0)], "clip": 2.0}),
                      driver="call_nested", oracle=clip_value_oracle))
    return cases


def clip_norm_oracle(inputs, ctx):
    grads, max_norm = ctx.convert(inputs["args"][0]), inputs["args"][1]
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params], total


def clip_norm_cases(rng):
    cases = []
    for dtype in DTYPES:
        cases.append(Case(f"three tensors, max_norm 1, {NAME[dtype]}",
                          call_inputs("clip_grad_norm", {"grads": _grad_list(rng, dtype, 1.0), "max_norm": 1.0}),
                          driver="call_nested", oracle=clip_norm_oracle))
    cases.append(Case("norm below max_norm (nothing changes)",
                      call_inputs("clip_grad_norm", {"grads": _grad_list(rng, np.float64, 0.1), "max_norm": 10.0}),
                      driver="call_nested", oracle=clip_norm_oracle))
    cases.append(Case("tiny gradients, max_norm 0.001 (the 1e-6 in the scale matters)",
                      call_inputs("clip_grad_norm", {"grads": _grad_list(rng, np.float64, 0.001), "max_norm": 0.001}),
                      driver="call_nested", oracle=clip_norm_oracle, atol=1e-12))
    cases.append(Case("one large tensor and two small ones",
                      call_inputs("clip_grad_norm", {"grads": [_normal(rng, (20,), scale=5.0), _normal(rng, (3,), scale=0.01),
                                                               _normal(rng, (2, 2), scale=0.01)], "max_norm": 2.0}),
                      driver="call_nested", oracle=clip_norm_oracle))
    return cases


# init_weight -------------------------------------------------------------------
SCHEMES = ("xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "lecun_normal")
UNIFORM = ("xavier_uniform", "he_uniform")
# Statistical bounds, for draws of at least MIN_DRAWS values (each shape below has more):
# - the sample standard deviation is within 3% of the scheme's: its relative standard error is
#   below 1/sqrt(2 n) = 0.4%, so a correct draw fails with probability below 1e-13;
# - mean / std within 0.3 of 0 (standard error 1/sqrt(n) = 0.006) and the excess kurtosis within
#   0.3 of -1.2 (uniform) or 0 (normal) (standard error at most sqrt(24 / n) = 0.03);
# - a uniform draw's largest |w| within 0.2% of the bound a: P(max < a (1 - 0.002)) = 0.998^n < 1e-28.
MIN_DRAWS = 32_768
STD_RTOL, SHAPE_ATOL, BOUND_RTOL = 0.03, 0.3, 2e-3


def _fans(shape):
    """torch.nn.init's own fan rule, on a tensor that holds no data."""
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape, device="meta"))


def scheme_std(shape, scheme):
    fan_in, fan_out = _fans(shape)
    variance = {"xavier": 2.0 / (fan_in + fan_out), "he": 2.0 / fan_in, "lecun": 1.0 / fan_in}[scheme.split("_")[0]]
    return variance ** 0.5


def init_scale_oracle(inputs, ctx):
    shape, scheme = inputs["args"]
    return {"shape": list(shape), "dtype": "float32", "device": torch.device(ctx.device).type,
            "standard deviation": scheme_std(tuple(shape), scheme)}


def init_distribution_oracle(inputs, ctx):
    return {"mean / standard deviation": 0.0, "excess kurtosis": -1.2 if inputs["args"][1] in UNIFORM else 0.0}


def init_bound_oracle(inputs, ctx):
    shape, scheme = inputs["args"]
    return {"largest |value|": 3 ** 0.5 * scheme_std(tuple(shape), scheme)}


def _linear_shape(rng):
    """(out, in) with out and in at least 20% apart, so that swapping the fans shows."""
    while True:
        out, inp = (int(v) for v in rng.integers(150, 400, size=2))
        if max(out, inp) >= 1.2 * min(out, inp) and out * inp >= MIN_DRAWS:
            return (out, inp)


def _conv_shape(rng):
    out, inp, k = int(rng.integers(96, 160)), int(rng.integers(48, 96)), int(rng.choice([3, 5]))
    if 0.83 < out / inp < 1.2:
        out = int(inp * 1.6)
    return (out, inp, k, k)


def _init_inputs(shape, scheme, seed):
    return {**call_inputs("init_weight", {"shape": list(shape), "scheme": scheme}), "seed": seed}


def init_cases(rng):
    from grader.drivers import random_draws as rd

    cases = []
    for scheme in SCHEMES:
        for kind, shape in (("linear", _linear_shape(rng)), ("conv", _conv_shape(rng))):
            inputs = _init_inputs(shape, scheme, int(rng.integers(1 << 30)))
            title = f"{scheme}, {kind} weight {shape}"
            cases.append(Case(f"{title}: shape, dtype and standard deviation (within {STD_RTOL:.0%})", inputs,
                              driver="call_generator", oracle=init_scale_oracle, measure=rd.measure_scale,
                              rtol=STD_RTOL, atol=0.0))
            if scheme in UNIFORM:
                cases.append(Case(f"{title}: largest |w| is the bound (within {BOUND_RTOL:.1%})", inputs,
                                  driver="call_generator", oracle=init_bound_oracle, measure=rd.measure_bound,
                                  rtol=BOUND_RTOL, atol=0.0))
        family = "uniform" if scheme in UNIFORM else "normal"
        cases.append(Case(f"{scheme}, conv weight {shape}: zero mean and a {family} shape "
                          f"(mean / std and excess kurtosis within {SHAPE_ATOL})", inputs, driver="call_generator",
                          oracle=init_distribution_oracle, measure=rd.measure_distribution, rtol=0.0, atol=SHAPE_ATOL))
    for scheme, shape in (("he_uniform", (int(rng.integers(8, 40)), int(rng.integers(8, 40)))),
                          ("xavier_normal", (int(rng.integers(4, 16)), int(rng.integers(2, 8)), 3, 3))):
        cases.append(Case(f"{scheme}, {shape}: a seeded generator reproduces the weights",
                          _init_inputs(shape, scheme, int(rng.integers(1 << 30))), driver="call_seeded",
                          measure=rd.measure_seeded))
    cases.append(Case("an unknown scheme raises ValueError", {
        **call_inputs("init_weight", {"shape": [4, 3], "scheme": "glorot_fancy"}), "expect": "ValueError"},
        driver="call_raises", weight=0.3))
    return cases


# activation_variance_through_depth ---------------------------------------------
# Where the variance should be: the infinite-width (mean-field) recursion. Each layer's
# pre-activation z has variance k * E[h^2] of the layer before (k = width * Var(W)), and
# Var(g(z)) follows by Gauss-Hermite quadrature. At finite width the variance wanders: for
# ReLU layers of width 256, the log of the variance after 12 layers has a standard deviation
# near 0.4, so the last layer's band is a factor LAST_BAND either way (more than 5 standard
# deviations); after the first layer it is FIRST_BAND.
FIRST_BAND, LAST_BAND = 1.5, 16.0
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
_G = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh, "linear": lambda z: z}


def mean_field_variances(x, depth, scheme, activation):
    width = x.shape[1]
    k = width * scheme_std((width, width), scheme) ** 2
    second_moment, out = float((x ** 2).mean()), []
    for _ in range(depth):
        h = _G[activation](np.sqrt(k * second_moment) * _NODES)
        second_moment = float(_WEIGHTS @ h ** 2)
        out.append(second_moment - float(_WEIGHTS @ h) ** 2)
    return out


DEPTH_CONFIGS = (("he_normal", "relu"), ("xavier_normal", "relu"), ("he_uniform", "linear"),
                 ("lecun_normal", "tanh"), ("xavier_uniform", "linear"))


def depth_cases(rng):
    from grader.drivers import random_draws as rd

    cases = []
    for scheme, activation in DEPTH_CONFIGS:
        depth, width = int(rng.integers(8, 13)), 256
        x = rng.standard_normal((64, width)).astype(np.float32)
        ideal = mean_field_variances(x.astype(np.float64), depth, scheme, activation)
        bands = {"variance after layer 1": [0, ideal[0] / FIRST_BAND, ideal[0] * FIRST_BAND],
                 f"variance after layer {depth}": [depth - 1, ideal[-1] / LAST_BAND, ideal[-1] * LAST_BAND]}
        inputs = {**call_inputs("activation_variance_through_depth", {"x": x, "depth": depth, "scheme": scheme},
                                activation=activation),
                  "seed": int(rng.integers(1 << 30)), "bands": bands}
        cases.append(Case(f"{scheme}, {activation}, {depth} layers of width {width}: the variance after the first "
                          f"and the last layer lies in its band", inputs, driver="call_generator",
                          measure=rd.measure_bands))
    return cases


def _mistakes(name, *pairs):
    return tuple(Mistake(hint, {name: fn}) for hint, fn in pairs)


CLIP_SHORTCUTS = ("clip_grad", "foreach")  # torch.nn.utils.clip_grad_norm_, get_total_norm, torch._foreach_*

EXERCISES = [
    Exercise(
        name="Value",
        entry=("Value",),
        cases=value_cases,
        forbidden=AUTOGRAD,
        forbidden_hint="Value computes its gradients itself; store plain Python floats in .data and .grad",
        mistakes=_mistakes(
            "Value",
            ("a node used more than once must collect every contribution: use `grad +=`, not `grad =`", m.ValueOverwritesGrad),
            ("the chain rule multiplies by the upstream gradient `out.grad` in every _backward", m.ValueNoUpstream),
            ("call the nodes' _backward in reverse topological order, so a node's gradient is complete before it is passed on", m.ValueNoTopologicalOrder),
            ("d(x ** n)/dx is n * x ** (n - 1)", m.ValuePowDerivative),
            ("d(exp x)/dx is exp(x), the output, not x", m.ValueExpDerivative),
            ("d(tanh x)/dx is 1 - tanh(x) ** 2", m.ValueTanhDerivative),
            ("ReLU passes the gradient only where its input is positive", m.ValueReluAlwaysOpen),
            ("`2.5 - a` calls a.__rsub__(2.5), which must compute 2.5 - a, not a - 2.5", m.ValueRsubReversed),
            ("`2.5 / a` calls a.__rtruediv__(2.5), which must compute 2.5 / a, not a / 2.5", m.ValueRdivReversed),
        ),
    ),
    Exercise(
        name="affine_forward",
        entry=("affine_forward",),
        cases=affine_forward_cases,
        forbidden=("linear",),  # F.linear, torch.addmm, nn.Linear...
        forbidden_hint="write it with @ and +",
        mistakes=_mistakes(
            "affine_forward",
            ("add the bias b to every row of x @ w", m.affine_no_bias),
            ("the affine layer has no activation; ReLU is a separate layer", m.affine_with_relu),
        ),
    ),
    Exercise(
        name="affine_backward",
        entry=("affine_backward",),
        cases=affine_backward_cases,
        outputs=("dx", "dw", "db"),
        forbidden=AUTOGRAD,
        forbidden_hint="derive the gradients by hand: dx = dout @ w.T, dw = x.T @ dout",
        mistakes=_mistakes(
            "affine_backward",
            ("b is added to every row, so db sums dout over the batch; it is not a mean", m.affine_backward_db_mean),
            ("dout already holds the loss's 1/N; do not divide dw and db by N again", m.affine_backward_averaged),
            ("dx = dout @ w.T: transpose w", m.affine_backward_no_dx_transpose),
        ),
    ),
    Exercise(
        name="relu_backward",
        entry=("relu_backward",),
        cases=relu_backward_cases,
        forbidden=AUTOGRAD,
        forbidden_hint="the gradient is dout where x > 0 and 0 elsewhere",
        mistakes=_mistakes(
            "relu_backward",
            ("where x == 0 exactly, ReLU's gradient is 0 (use x > 0, not x >= 0)", m.relu_backward_ge),
            ("multiply the mask by the upstream gradient dout", m.relu_backward_mask_only),
            ("the mask comes from the layer's input x, not from dout", m.relu_backward_mask_from_dout),
        ),
    ),
    Exercise(
        name="mlp_loss_and_grads",
        entry=("mlp_loss_and_grads",),
        cases=mlp_cases,
        outputs=("loss", "grads"),
        forbidden=AUTOGRAD,
        forbidden_hint="backpropagate by hand, layer by layer",
        mistakes=_mistakes(
            "mlp_loss_and_grads",
            ("the loss is a mean over the batch, so divide dscores by N", m.mlp_grads_summed),
            ("the gradient flows back through the ReLU only where the hidden pre-activation was positive", m.mlp_no_relu_mask),
            ("dscores is softmax(scores) minus 1 at the correct class", m.mlp_no_correct_class),
            ("divide dscores by N once: you divided it twice", m.mlp_grads_averaged_twice),
        ) + (
            Mistake("subtract the row max from the scores before exp: large scores overflow",
                    when=patterns.overflow((1,))),
            Mistake(LOG_SUM_EXP, when=patterns.nonfinite_only((0,))),
        ),
    ),
    Exercise(
        name="sgd_momentum_step",
        entry=("sgd_momentum_step",),
        forbidden=OPTIMISERS,
        forbidden_hint=OPTIMISER_HINT,
        cases=sgd_cases,
        outputs=("w", "v"),
        mistakes=_mistakes(
            "sgd_momentum_step",
            ("use the lecture's form v = beta * v + (1 - beta) * dw: the gradient is weighted by (1 - beta)", m.momentum_classic),
            ("step along the velocity: w = w - lr * v, not along dw", m.momentum_plain_gradient),
            ("this exercise keeps lr out of v: v = beta * v + (1 - beta) * dw, then w = w - lr * v", m.momentum_velocity_with_lr),
        ),
    ),
    Exercise(
        name="adagrad_step",
        entry=("adagrad_step",),
        forbidden=OPTIMISERS,
        forbidden_hint=OPTIMISER_HINT,
        cases=adagrad_cases,
        outputs=("w", "cache"),
        mistakes=_mistakes(
            "adagrad_step",
            ("AdaGrad adds up the squared gradients of all steps: cache = cache + dw ** 2", m.adagrad_no_sum),
            ("eps goes inside the square root here: sqrt(cache + eps)", m.adagrad_eps_outside),
            ("divide by the square root of the cache", m.adagrad_no_sqrt),
        ),
    ),
    Exercise(
        name="rmsprop_step",
        entry=("rmsprop_step",),
        forbidden=OPTIMISERS,
        forbidden_hint=OPTIMISER_HINT,
        cases=rmsprop_cases,
        outputs=("w", "cache"),
        mistakes=_mistakes(
            "rmsprop_step",
            ("decay weighs the old cache: cache = decay * cache + (1 - decay) * dw ** 2", m.rmsprop_decay_swapped),
            ("eps goes outside the square root here: sqrt(cache) + eps", m.rmsprop_eps_inside),
            ("RMSProp averages the squared gradients (with decay) instead of summing them like AdaGrad", m.rmsprop_like_adagrad),
        ),
    ),
    Exercise(
        name="adam_step",
        entry=("adam_step",),
        cases=adam_cases,
        outputs=("w", "m", "v"),
        forbidden=OPTIMISERS,
        forbidden_hint=OPTIMISER_HINT,
        mistakes=_mistakes(
            "adam_step",
            ("correct the bias of both moments: m_hat = m / (1 - beta1 ** t), v_hat = v / (1 - beta2 ** t)", m.adam_no_bias_correction),
            ("t counts from 1: the bias correction uses beta ** t, not beta ** (t + 1)", m.adam_t_from_zero),
            ("eps goes outside the square root: sqrt(v_hat) + eps", m.adam_eps_inside),
            ("return the running moments m and v, not the bias-corrected m_hat and v_hat", m.adam_returns_corrected),
        ),
    ),
    Exercise(
        name="lr_time_decay",
        entry=("lr_time_decay",),
        cases=lr_cases,
        mistakes=_mistakes(
            "lr_time_decay",
            ("time-based decay divides: lr0 / (1 + decay_rate * epoch), not an exponential", m.lr_exponential),
            ("multiply decay_rate by epoch inside the bracket: 1 + decay_rate * epoch, no power", m.lr_power),
            ("the decay grows with epoch: use decay_rate * epoch", m.lr_step_once),
        ),
    ),
    Exercise(
        name="clip_grad_value",
        entry=("clip_grad_value",),
        cases=clip_value_cases,
        forbidden=CLIP_SHORTCUTS,
        forbidden_hint="clamp each tensor yourself",
        mistakes=_mistakes(
            "clip_grad_value",
            ("clip both sides: every entry goes into [-clip, clip]", m.clip_value_upper_only),
            ("clipping by value clamps each entry; it does not rescale by the norm", m.clip_value_by_norm),
        ),
    ),
    Exercise(
        name="clip_grad_norm",
        entry=("clip_grad_norm",),
        cases=clip_norm_cases,
        outputs=("clipped", "total_norm"),
        forbidden=CLIP_SHORTCUTS,
        forbidden_hint="compute the total norm and the scale yourself",
        mistakes=_mistakes(
            "clip_grad_norm",
            ("the norm is global: one norm over all tensors together, and one scale for all of them", m.clip_norm_per_tensor),
            ("scale only when the total norm exceeds max_norm: the scale is min(1, max_norm / (total_norm + 1e-6))", m.clip_norm_always_scales),
            ("the total norm is the square root of the sum of all squared entries, not a sum of norms", m.clip_norm_sum_of_norms),
            ("like clip_grad_norm_, divide by total_norm + 1e-6", m.clip_norm_no_epsilon),
            ("return the total norm before clipping", m.clip_norm_returns_new_norm),
        ),
    ),
    Exercise(
        name="init_weight",
        entry=("init_weight",),
        cases=init_cases,
        forbidden=("torch.nn.init",),
        forbidden_hint="compute the fans and the scale yourself, then draw with uniform_ or normal_",
        mistakes=_mistakes(
            "init_weight",
            ("a conv weight (out, in, kh, kw) has fan_in = in * kh * kw and fan_out = out * kh * kw", m.init_no_receptive_field),
            ("fan_in is shape[1] (the inputs of each unit) and fan_out is shape[0]: you swapped them", m.init_fans_swapped),
            ("U(-a, a) has standard deviation a / sqrt(3): the bound is sqrt(3) times the scheme's standard deviation", m.init_bound_is_std),
            ("normal_(0, std) takes the standard deviation, the square root of the variance", m.init_variance_as_std),
            ("He's variance is 2 / fan_in: the 2 makes up for ReLU zeroing half of its inputs", m.init_he_without_two),
            ("draw with the `generator` argument (for example w.uniform_(-a, a, generator=generator)), so a seed reproduces the weights", m.init_ignores_generator),
            ("make a float32 tensor (torch.empty(shape) is float32 by default)", m.init_float64),
        ),
    ),
    Exercise(
        name="activation_variance_through_depth",
        entry=("activation_variance_through_depth",),
        cases=depth_cases,
        mistakes=_mistakes(
            "activation_variance_through_depth",
            ("record the variance after the activation, g(x @ W.T), not of the pre-activation", m.depth_before_activation),
            ("draw every layer's weight with init_weight((width, width), scheme, generator), not with a fixed scale", m.depth_unit_weights),
            ("one value per layer, taken after it: leave out the input's variance", m.depth_includes_input),
        ),
    ),
]
