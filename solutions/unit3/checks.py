"""Checks for Unit 3: penalties, dropout (statistically), batch norm, early stopping, attacks, robust training."""
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from grader.compare import patterns
from grader.drivers import attacks, properties, stochastic
from grader.drivers.attacks import build_mlp, one_thread
from grader.digits import digits_arrays
from grader.spec import Case, Exercise, Mistake, call_inputs

from . import mistakes as m

DTYPES = (np.float32, np.float64)
NAME = {np.float32: "float32", np.float64: "float64"}


def _normal(rng, shape, dtype=np.float64, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _mistakes(name, *pairs):
    return tuple(Mistake(hint, {name: fn}) for hint, fn in pairs)


# l1_penalty, l2_penalty ------------------------------------------------------
def penalty_oracle(inputs, ctx):
    """lam * ||w||_1 or lam * ||w||_2 ** 2 over all tensors, from torch.linalg.vector_norm."""
    params, lam = ctx.convert(inputs["args"][0]), inputs["args"][1]
    order = 1 if inputs["fn"] == "l1_penalty" else 2
    norms = torch.stack([torch.linalg.vector_norm(p, ord=order) for p in params])
    return lam * (norms.sum() if order == 1 else (norms ** 2).sum())


def penalty_cases(fn):
    def cases(rng):
        out = []
        for dtype in DTYPES:
            params = [_normal(rng, s, dtype) for s in ((4, 3), (3,), (2, 5))]
            out.append(Case(f"three tensors, lam 0.01, {NAME[dtype]}",
                            call_inputs(fn, {"params": params, "lam": 0.01}), driver="call_nested",
                            oracle=penalty_oracle))
        out.append(Case("one tensor, lam 0.5", call_inputs(fn, {"params": [_normal(rng, (6,))], "lam": 0.5}),
                        driver="call_nested", oracle=penalty_oracle))
        out.append(Case("a large first tensor and a small second one, lam 1e-3",
                        call_inputs(fn, {"params": [_normal(rng, (10, 10)), _normal(rng, (2,), scale=5.0)],
                                         "lam": 1e-3}), driver="call_nested", oracle=penalty_oracle))
        return out
    return cases


# dropout_forward -------------------------------------------------------------
# Drop rate. Each of the n outputs is dropped independently with probability p,
# so the number dropped K is Binomial(n, p). Hoeffding's inequality gives
#     P(|K/n - p| >= t) <= 2 exp(-2 n t^2)
# for every p. With RATE_CASES cases and a failure probability of at most
# DELTA = 1e-6 for all of them together (a union bound), each case allows
#     t = sqrt(ln(2 * RATE_CASES / DELTA) / (2 n)),
# about 0.0089 for n = 100_000 and three cases: a correct dropout fails a rate
# check less than once in a million runs, while p and 1 - p (or no dropout)
# are told apart whenever they differ by more than 2t.
DELTA = 1e-6
RATE_P = (0.1, 0.3, 0.8)
RATE_SHAPE = (200, 500)


def rate_tolerance(n, cases=len(RATE_P), delta=DELTA):
    """Half-width t of the interval around p that a correct drop fraction leaves with probability < delta."""
    return math.sqrt(math.log(2 * cases / delta) / (2 * n))


def dropout_rate_oracle(inputs, ctx):
    return {stochastic.OWN_MASK: True, stochastic.OWN_DRAW: True, "fraction of outputs set to 0": float(inputs["p"])}


OWN_MASK_HINT = ("draw one random number per value, e.g. torch.rand(x.shape, generator=generator): a mask shared "
                 "by the batch (one per feature) or one number per example drops the same values together")


def _nonzero(rng, shape, dtype):
    x = rng.uniform(0.1, 2.0, size=shape) * rng.choice((-1.0, 1.0), size=shape)
    return x.astype(dtype)


def dropout_cases(rng):
    cases = []
    for dtype in DTYPES:
        for p in (0.2, 0.5, 0.75):
            cases.append(Case(f"kept outputs are x / (1 - p): p={p}, {NAME[dtype]}",
                              {"fn": "dropout_forward", "x": _nonzero(rng, (50, 40), dtype), "p": p,
                               "seed": int(rng.integers(1 << 30))}, driver="dropout_structure", rtol=1e-5,
                              measure=stochastic.measure_structure))
    tol = rate_tolerance(RATE_SHAPE[0] * RATE_SHAPE[1])
    for p in RATE_P:
        cases.append(Case(f"drop rate over 100,000 values, p={p} (allowed: p ± {tol:.4f})",
                          {"fn": "dropout_forward", "shape": list(RATE_SHAPE), "p": p,
                           "seed": int(rng.integers(1 << 30))},
                          driver="dropout_rate", oracle=dropout_rate_oracle, rtol=0.0, atol=tol,
                          measure=stochastic.measure_rate))
    cases.append(Case("random draws come from `generator`",
                      {"fn": "dropout_forward", "x": _nonzero(rng, (20, 30), np.float32), "p": 0.5,
                       "seed": int(rng.integers(1 << 30))}, driver="dropout_seeded",
                      measure=stochastic.measure_seeded))
    for dtype in DTYPES:
        cases.append(Case(f"eval mode (train=False) returns x, {NAME[dtype]}",
                          call_inputs("dropout_forward", {"x": _normal(rng, (6, 5), dtype), "p": 0.5}, train=False)))
    cases.append(Case("eval mode with p=1 still returns x",
                      call_inputs("dropout_forward", {"x": _normal(rng, (4, 3)), "p": 1.0}, train=False)))
    cases.append(Case("p=0 returns x", call_inputs("dropout_forward", {"x": _normal(rng, (4, 3)), "p": 0.0})))
    cases.append(Case("p=1 drops everything (no division by zero)",
                      call_inputs("dropout_forward", {"x": _normal(rng, (4, 3)), "p": 1.0})))
    return cases


# batchnorm_forward -----------------------------------------------------------
def batchnorm_oracle(inputs, ctx):
    """F.batch_norm on copies of the running statistics, which it updates in place."""
    x, gamma, beta, running_mean, running_var = (ctx.convert(a) for a in inputs["args"])
    kw = inputs["kwargs"]
    running_mean, running_var = running_mean.clone(), running_var.clone()
    out = F.batch_norm(x, running_mean, running_var, gamma, beta, training=kw.get("train", True),
                       momentum=kw.get("momentum", 0.1), eps=kw.get("eps", 1e-5))
    return out, running_mean, running_var


def _bn_args(rng, n, d, dtype, offset=0.0):
    return {"x": _normal(rng, (n, d), dtype, 2.0) + np.asarray(offset, dtype),
            "gamma": (1 + _normal(rng, (d,), dtype, 0.3)).astype(dtype), "beta": _normal(rng, (d,), dtype, 0.5),
            "running_mean": _normal(rng, (d,), dtype, 0.5),
            "running_var": rng.uniform(0.5, 2.0, d).astype(dtype)}


def batchnorm_cases(rng):
    cases = []
    for dtype in DTYPES:
        cases.append(Case(f"training, x (16, 5), {NAME[dtype]}",
                          call_inputs("batchnorm_forward", _bn_args(rng, 16, 5, dtype)), oracle=batchnorm_oracle))
        cases.append(Case(f"evaluation (train=False), x (8, 5), {NAME[dtype]}",
                          call_inputs("batchnorm_forward", _bn_args(rng, 8, 5, dtype), train=False),
                          oracle=batchnorm_oracle))
    cases.append(Case("training, momentum 0.3, eps 1e-3",
                      call_inputs("batchnorm_forward", _bn_args(rng, 10, 4, np.float64), momentum=0.3, eps=1e-3),
                      oracle=batchnorm_oracle))
    cases.append(Case("training on a batch of 3 (biased vs unbiased variance differ a lot)",
                      call_inputs("batchnorm_forward", _bn_args(rng, 3, 6, np.float64)), oracle=batchnorm_oracle))
    cases.append(Case("a feature with tiny variance (eps matters)",
                      call_inputs("batchnorm_forward", {**_bn_args(rng, 12, 3, np.float64),
                                                        "x": _normal(rng, (12, 3), scale=1e-3) + 5.0}, eps=1e-2),
                      oracle=batchnorm_oracle))
    cases.append(Case("evaluation with tiny running variance",
                      call_inputs("batchnorm_forward", {**_bn_args(rng, 6, 3, np.float64),
                                                        "running_var": np.full(3, 1e-4)}, train=False, eps=1e-3),
                      oracle=batchnorm_oracle))
    return cases


# early_stopping --------------------------------------------------------------
def _rescaled(rng, losses, min_delta):
    """A loss curve scaled and shifted (ties stay ties, min_delta scales along), after 1-4 improving epochs."""
    scale, shift = float(rng.uniform(0.5, 2.0)), float(rng.uniform(-0.5, 0.5))
    before = int(rng.integers(1, 5))
    curve = [scale * v + shift for v in losses]
    step = scale * (min_delta + 0.1)   # each earlier epoch is worse than the next by more than min_delta
    head = [curve[0] + step * (before - j) for j in range(before)]
    return head + curve, scale * min_delta


def early_cases(rng):
    fixed = [
        ("loss levels off, patience 3", [1.0, 0.8, 0.7, 0.72, 0.71, 0.73, 0.69, 0.75, 0.76, 0.77], 3, 0.0),
        ("the loss keeps falling: never stops", [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], 2, 0.0),
        ("an equal loss is no improvement", [0.9, 0.5, 0.5, 0.5, 0.4], 2, 0.0),
        ("improvements smaller than min_delta do not count", [1.0, 0.8, 0.79, 0.785, 0.6, 0.59, 0.595, 0.58], 3, 0.05),
        ("patience 1", [0.5, 0.4, 0.45, 0.3, 0.2], 1, 0.0),
        ("a late improvement resets the wait", [1.0, 0.9, 0.95, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88], 3, 0.0),
    ]
    cases = [Case(name, call_inputs("early_stopping", {"val_losses": losses, "patience": patience},
                                    min_delta=min_delta), public_only=True)
             for name, losses, patience, min_delta in fixed]
    for name, losses, patience, min_delta in fixed:   # the same situations, moved and rescaled by the seed
        losses, min_delta = _rescaled(rng, losses, min_delta)
        cases.append(Case(f"{name}, rescaled, after a few improving epochs",
                          call_inputs("early_stopping", {"val_losses": losses, "patience": patience},
                                      min_delta=min_delta)))
    for i in range(4):
        steps = rng.normal(-0.02, 0.05, size=30)
        losses = [round(float(v), 4) for v in 1.0 + np.cumsum(steps)]
        patience = int(rng.integers(2, 6))
        cases.append(Case(f"a noisy loss curve {i + 1} (patience {patience}, min_delta 0.01)",
                          call_inputs("early_stopping", {"val_losses": losses, "patience": patience},
                                      min_delta=0.01)))
    return cases


# attacks ---------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _blobs_model():
    """A 20-16-3 ReLU network trained on three Gaussian blobs inside [0, 1]^20 (fixed seed)."""
    rng = np.random.default_rng(2026)
    centres = rng.uniform(0.3, 0.7, size=(3, 20))
    y = rng.integers(0, 3, size=300)
    X = np.clip(centres[y] + rng.normal(0, 0.12, size=(300, 20)), 0, 1)
    gen = torch.Generator().manual_seed(2026)
    W1 = torch.randn(16, 20, generator=gen, dtype=torch.float64) * 0.3
    W2 = torch.randn(3, 16, generator=gen, dtype=torch.float64) * 0.3
    params = [W1, torch.zeros(16, dtype=torch.float64), W2, torch.zeros(3, dtype=torch.float64)]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=0.05)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    with one_thread():
        for _ in range(150):
            optimizer.zero_grad()
            F.cross_entropy(F.linear(torch.relu(F.linear(Xt, params[0], params[1])), params[2], params[3]), yt).backward()
            optimizer.step()
    return [p.detach().numpy().copy() for p in params], X, y


# The trained blobs model is so confident that many of its float32 input gradients are about 1e-10, and
# their sign depends on how a correct student writes the loss (F.cross_entropy, a sum, logsumexp by hand).
# Its logits divided by ATTACK_TEMPERATURE keep every prediction and leave no sign to chance.
ATTACK_TEMPERATURE = 4.0


def _attack_batch(rng, n, dtype):
    (W1, b1, W2, b2), X, y = _blobs_model()
    weights = [W1, b1, W2 / ATTACK_TEMPERATURE, b2 / ATTACK_TEMPERATURE]
    idx = rng.choice(len(X), size=n, replace=False)
    return [w.astype(dtype) for w in weights], X[idx].astype(dtype), y[idx].astype(np.int64)


def _attack_inputs(fn, rng, n, dtype, args, **kwargs):
    weights, x, y = _attack_batch(rng, n, dtype)
    return {"fn": fn, "model": weights, "x": x, "y": y, "args": list(args), "kwargs": kwargs}


def fgsm_cases(rng):
    cases = []
    for eps in (0.05, 0.15):
        cases.append(Case(f"eps={eps}, 40 samples, float64", _attack_inputs("fgsm_attack", rng, 40, np.float64, [eps]),
                          driver="attack"))
    cases.append(Case("eps=0.1, float32", _attack_inputs("fgsm_attack", rng, 40, np.float32, [0.1]), driver="attack"))
    inputs = _attack_inputs("fgsm_attack", rng, 30, np.float64, [0.3])
    inputs["x"] = np.where(inputs["x"] > 0.5, 1.0, 0.0)
    cases.append(Case("pixels at 0 and 1 with eps=0.3 (clamp to [0, 1])", inputs, driver="attack"))
    return cases


def pgd_cases(rng):
    cases = [
        Case("eps=0.1, alpha=0.03, 10 steps, float64",
             _attack_inputs("pgd_attack", rng, 40, np.float64, [0.1, 0.03, 10]), driver="attack"),
        Case("eps=0.05, alpha=0.02, 6 steps, float32",
             _attack_inputs("pgd_attack", rng, 40, np.float32, [0.05, 0.02, 6]), driver="attack"),
        Case("one step with alpha=eps (the same as FGSM)",
             _attack_inputs("pgd_attack", rng, 30, np.float64, [0.1, 0.1, 1]), driver="attack"),
    ]
    inputs = _attack_inputs("pgd_attack", rng, 40, np.float64, [0.1, 0.025, 8], random_start=True)
    inputs["generator_seed"] = int(rng.integers(1 << 30))
    cases.append(Case("random_start=True with a seeded generator", inputs, driver="attack"))
    return cases


def adversarial_step_cases(rng):
    cases = []
    for dtype, calls in ((np.float64, 2), (np.float32, 1)):
        weights, x, y = _attack_batch(rng, 32, dtype)
        cases.append(Case(f"{calls} step{'s' * (calls > 1)} of SGD with momentum, {NAME[dtype]}",
                          {"fn": "adversarial_training_step", "model": weights, "x": x, "y": y,
                           "lr": 0.1, "momentum": 0.9, "args": [0.1, 0.04, 3], "calls": calls},
                          driver="adversarial_step"))
    return cases


# elastic_net_penalty -----------------------------------------------------------
def elastic_oracle(inputs, ctx):
    """l1 * ||w||_1 + l2 * ||w||_2 ** 2 over all tensors, from torch.linalg.vector_norm."""
    params, l1, l2 = ctx.convert(inputs["args"][0]), inputs["args"][1], inputs["args"][2]
    return sum(l1 * torch.linalg.vector_norm(p, ord=1) + l2 * torch.linalg.vector_norm(p) ** 2 for p in params)


def elastic_cases(rng):
    out = []
    for dtype in DTYPES:
        params = [_normal(rng, s, dtype) for s in ((5, 3), (3,), (2, 4))]
        l1, l2 = float(rng.uniform(0.001, 0.1)), float(rng.uniform(0.001, 0.1))
        out.append(Case(f"three tensors, {NAME[dtype]}", call_inputs("elastic_net_penalty", {
            "params": params, "l1": round(l1, 4), "l2": round(l2, 4)}), driver="call_nested", oracle=elastic_oracle))
    big = [_normal(rng, (8, 8), scale=3.0), _normal(rng, (4,), scale=0.1)]
    out.append(Case("l1 only (l2 = 0)", call_inputs("elastic_net_penalty", {"params": big, "l1": 0.05, "l2": 0.0}),
                    driver="call_nested", oracle=elastic_oracle))
    out.append(Case("l2 only (l1 = 0)", call_inputs("elastic_net_penalty", {"params": big, "l1": 0.0, "l2": 0.05}),
                    driver="call_nested", oracle=elastic_oracle))
    out.append(Case("weights far from 1, different strengths",
                    call_inputs("elastic_net_penalty", {"params": [_normal(rng, (6, 2), scale=4.0), _normal(rng, (3,), scale=0.2)],
                                                        "l1": 0.01, "l2": 0.3}), driver="call_nested", oracle=elastic_oracle))
    return out


# decay_parameter_groups ---------------------------------------------------------
def _block(rng, d_in):
    """One random block of a model as plain data (see grader.drivers.properties.build_layers), and its width."""
    d = int(rng.integers(2, 7))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return [["Linear", [d_in, d], {}], ["BatchNorm1d", [d], {}], ["ReLU", [], {}]], d
    if kind == 1:
        return [["Linear", [d_in, d], {"bias": False}], ["LayerNorm", [d], {}]], d
    if kind == 2:
        return [["Sequential", [["Linear", [d_in, d], {}], ["ReLU", [], {}], ["Dropout", [0.1], {}]]]], d
    return [["Linear", [d_in, 2 * d], {}], ["GroupNorm", [2, 2 * d], {}], ["Linear", [2 * d, d], {}]], d


def param_group_cases(rng):
    fixed = [
        ("a plain MLP: Linear, ReLU, Linear", [["Linear", [4, 8], {}], ["ReLU", [], {}], ["Linear", [8, 3], {}]]),
        ("conv, batch norm and a linear head", [["Conv2d", [3, 4, 3], {}], ["BatchNorm2d", [4], {}], ["ReLU", [], {}],
                                                ["Flatten", [], {}], ["Linear", [16, 2], {}]]),
        ("a layer norm over two dimensions (its weight is 2-d)", [["Conv1d", [2, 3, 1], {}], ["LayerNorm", [[3, 5]], {}],
                                                                   ["Flatten", [], {}], ["Linear", [15, 2], {}]]),
        ("an embedding, a linear layer without bias, a nested block",
         [["Embedding", [10, 4], {}], ["Linear", [4, 4], {"bias": False}],
          ["Sequential", [["LayerNorm", [4], {}], ["Sequential", [["Linear", [4, 2], {}]]]]]]),
    ]
    cases = [Case(name, {"fn": "decay_parameter_groups", "layers": layers}, driver="param_groups", public_only=True)
             for name, layers in fixed]
    for i in range(3):
        layers, width = [], int(rng.integers(3, 8))
        for _ in range(int(rng.integers(2, 5))):
            block, width = _block(rng, width)
            layers += block
        if rng.random() < 0.5:
            layers.append(["LayerNorm", [[1, width]], {}])   # a 2-d weight that must not be decayed
        else:
            layers.append(["Linear", [width, 2], {}])
        cases.append(Case(f"a model of random blocks {i + 1}", {"fn": "decay_parameter_groups", "layers": layers},
                          driver="param_groups"))
    return cases


# k_fold_indices -------------------------------------------------------------------
def kfold_cases(rng):
    # shuffling is judged only from n = properties.SHUFFLE_MIN_N on; the small splits check the sizes
    fixed = [(10, 5, "n divisible by k"), (10, 4, "n = 10, k = 4 (sizes 3, 3, 2, 2)"), (7, 7, "k = n (leave one out)"),
             (23, 3, "n = 23, k = 3")]
    cases = [Case(name, {"fn": "k_fold_indices", "n": n, "k": k, "seed": int(rng.integers(1 << 30))},
                  driver="kfold", measure=properties.measure_kfold) for n, k, name in fixed]
    for _ in range(3):
        k = int(rng.integers(2, 9))
        n = int(k * rng.integers(3, 12) + rng.integers(1, k))   # never divisible by k
        n += k * (n < properties.SHUFFLE_MIN_N) * ((properties.SHUFFLE_MIN_N - n) // k + 1)
        cases.append(Case(f"n = {n}, k = {k}", {"fn": "k_fold_indices", "n": n, "k": k,
                                                 "seed": int(rng.integers(1 << 30))},
                          driver="kfold", measure=properties.measure_kfold))
    return cases


# augment_batch --------------------------------------------------------------------
# The flip rate. Over AUG_RATE_N images the number flipped is Binomial(n, flip_p), so by
# Hoeffding's inequality a correct augmentation misses flip_p by t or more with probability
# at most 2 exp(-2 n t^2); t = rate_tolerance(n, cases) keeps all rate cases together below
# DELTA (about 0.062 for 2,000 images and two cases). 0.25 and 0.75 are 0.5 apart, so a flip
# with probability 1 - flip_p fails, and so does one coin for the whole batch.
AUG_RATE_P = (0.25, 0.8)
AUG_RATE_N = 2000


def augment_rate_oracle(inputs, ctx):
    """The properties of a correct augmentation of this batch, with the flip rate equal to flip_p."""
    x = inputs["x"]
    return {properties.AUG_SHAPE: f"{tuple(x.shape)}, {x.dtype}", properties.AUG_INPUT: True,
            properties.AUG_CROP: True, properties.AUG_UPRIGHT: True,
            properties.AUG_RATE: float(inputs["flip_p"]), properties.AUG_SHIFTS: True}


def augment_cases(rng):
    cases = []
    for dtype, (N, C, H, W), pad in ((np.float32, (16, 3, 8, 8), 4), (np.float64, (12, 2, 6, 7), 2)):
        cases.append(Case(f"a batch {(N, C, H, W)}, pad={pad}, {NAME[dtype]}",
                          {"fn": "augment_batch", "x": _nonzero(rng, (N, C, H, W), dtype), "flip_p": 0.5,
                           "pad": pad, "seed": int(rng.integers(1 << 30))},
                          driver="augment", measure=properties.measure_augment))
    tol = rate_tolerance(AUG_RATE_N, cases=len(AUG_RATE_P))
    for flip_p in AUG_RATE_P:
        cases.append(Case(f"flip rate over {AUG_RATE_N:,} images, flip_p={flip_p} (allowed: ± {tol:.3f}); "
                          "every shift occurs", {"fn": "augment_batch", "x": _nonzero(rng, (AUG_RATE_N, 1, 5, 5), np.float32),
                                                 "flip_p": flip_p, "pad": 2, "seed": int(rng.integers(1 << 30)), "rate": True},
                          driver="augment", measure=properties.measure_augment, oracle=augment_rate_oracle,
                          rtol=0.0, atol=tol))
    for flip_p in (0.0, 1.0):
        cases.append(Case(f"flip_p={flip_p:g} flips {'no' if flip_p == 0 else 'every'} image",
                          {"fn": "augment_batch", "x": _nonzero(rng, (64, 1, 4, 4), np.float32), "flip_p": flip_p,
                           "pad": 1, "seed": int(rng.integers(1 << 30)), "rate": True},
                          driver="augment", measure=properties.measure_augment, oracle=augment_rate_oracle,
                          rtol=0.0, atol=0.0))
    cases.append(Case("a seeded generator reproduces the result",
                      {"fn": "augment_batch", "x": _nonzero(rng, (32, 1, 6, 6), np.float32), "flip_p": 0.5,
                       "pad": 2, "seed": int(rng.integers(1 << 30))},
                      driver="augment_seeded", measure=properties.measure_augment_seeded))
    return cases


# input_saliency -------------------------------------------------------------------
def saliency_oracle(inputs, ctx):
    """d sum_n scores[n, target[n]] / d x by autograd through the same model."""
    model = build_mlp(inputs["model"], ctx)
    x = ctx.tensor(inputs["x"], requires_grad=True)
    target = ctx.tensor(inputs["target"])
    model(x)[torch.arange(len(target), device=x.device), target].sum().backward()
    return x.grad


def saliency_cases(rng):
    cases = []
    for dtype, n in ((np.float64, 20), (np.float32, 12)):
        weights, x, y = _attack_batch(rng, n, dtype)
        cases.append(Case(f"the true classes of {n} inputs, {NAME[dtype]}",
                          {"fn": "input_saliency", "model": weights, "x": x, "target": y},
                          driver="saliency", oracle=saliency_oracle))
    weights, x, y = _attack_batch(rng, 15, np.float64)
    other = ((y + rng.integers(1, 3, size=y.shape)) % 3).astype(np.int64)
    cases.append(Case("other target classes than the predicted ones",
                      {"fn": "input_saliency", "model": weights, "x": x, "target": other},
                      driver="saliency", oracle=saliency_oracle))
    return cases


# adversarial_digits ----------------------------------------------------------
# The student's train_digits runs in the worker, twice (adversarial=False, then True), on the
# training split with DIGITS_KWARGS; the two models come back as plain layers and are measured
# here, in the trusted process, on a test split that never goes to the worker (Case.private).
# Robust accuracy is the per-example worst case over FGSM on cross-entropy, PGD on the margin
# from random starts, and transfer attacks crafted on the grader's own models; a sanity check
# at eps=0.5 catches gradient masking (grader/drivers/attacks.py explains the measurement).
#
# Calibration (`python bench/digits_calibration.py`): the reference train_digits with
# DIGITS_KWARGS on the 1,400 training images, seeds 0-11, CPU, measured as the check measures
# (worst seed / mean):
#   clean accuracy               standard 0.957 / 0.969, adversarially trained 0.942 / 0.964
#   robust accuracy at eps=0.15  adversarially trained 0.383 / 0.437, standard 0.174 / 0.145
#   gain                         0.252 / 0.292
#   accuracy left at eps=0.5 by attacks on the model's own gradients: 0.000 for every seed
# The targets sit 0.04 (clean), 0.08 (robust) and 0.10 (gain) below the worst seed, the sanity
# bound 0.20 above it. What they catch (same script): never trained adversarially, robust 0.13
# and no gain; logits scaled by 1e4, FGSM leaves 0.96 at eps=0.5 (sanity) and robust is 0.13;
# a hidden Tanh saturated by huge weights, PGD leaves 0.68 at eps=0.5 (sanity) while transfer
# attacks leave 0.24 at eps=0.15 (robust). Five epochs instead of the notebook's default fifteen
# train both models in 0.19 s instead of 0.54 s; fifteen give robust 0.461 / 0.485 and gain
# 0.385 / 0.414 (seeds 0-3), more than the targets need.
DIGITS_KWARGS = {"epochs": 5, "seed": 0}
DIGITS_EPS = 0.15
DIGITS_TARGETS = {"clean": 0.90, "clean_adv": 0.90, "robust": 0.30, "gain": 0.15, "sanity": 0.20}
DIGITS_SURROGATE_SEED = 2026
_DIGITS_LABELS = {key: label for key, label, _ in attacks.robust_training_checks({"eval_eps": DIGITS_EPS})}


@functools.lru_cache(maxsize=1)
def _digits():
    """scikit-learn's 8x8 digits in [0, 1]: 1,400 training and 397 test images (a fixed split)."""
    X, y = digits_arrays()
    perm = np.random.default_rng(0).permutation(len(X))
    train, test = perm[:1400], perm[1400:]
    return X[train], y[train], X[test], y[test]


@functools.lru_cache(maxsize=1)
def _digits_transfer():
    """Test images attacked (PGD on the margin) on the grader's own models: the reference trained
    normally and adversarially with another seed, once per process."""
    from .adversarial import train_digits

    X_train, y_train, X_test, y_test = (torch.from_numpy(a) for a in _digits())
    crafted = []
    with one_thread(), torch.random.fork_rng(devices=[]):
        for adversarial in (False, True):
            model = train_digits(X_train, y_train, adversarial=adversarial,
                                 **{**DIGITS_KWARGS, "seed": DIGITS_SURROGATE_SEED}).eval()
            generator = torch.Generator().manual_seed(DIGITS_SURROGATE_SEED)
            crafted.append(attacks.pgd_margin(model, X_test, y_test, DIGITS_EPS, generator).numpy())
    return crafted


# A public variant of the check, for `grader check` from a student release, where the test split
# and the transfer images (Case.private) do not ship: trained on the first DIGITS_PUBLIC_TRAIN
# training images, measured on the rest of the training split (never the test split, which the
# worker must not see) with FGSM and margin PGD but no transfer attacks. Calibrated like the
# targets above (seeds 0-11, worst / mean): clean 0.923 / 0.944, adversarially trained clean
# 0.903 / 0.929, robust 0.353 / 0.394, gain 0.223 / 0.262, sanity 0.000; never adversarial:
# robust 0.12, no gain; logits scaled by 1e4 or a saturated Tanh: sanity 0.96 and 0.68.
# Public only: the grade comes from the held-out check, which alone has the test split and the transfer attacks.
DIGITS_PUBLIC_TRAIN = 1100
DIGITS_PUBLIC_TARGETS = {"clean": 0.85, "clean_adv": 0.85, "robust": 0.25, "gain": 0.12, "sanity": 0.20}


def digits_cases(rng):
    X_train, y_train, X_test, y_test = _digits()
    inputs = {"fn": "train_digits", "X_train": X_train, "y_train": y_train, "kwargs": dict(DIGITS_KWARGS)}
    private = {"X_test": X_test, "y_test": y_test, "X_transfer": _digits_transfer(), "eval_eps": DIGITS_EPS,
               "targets": DIGITS_TARGETS}
    n = DIGITS_PUBLIC_TRAIN
    public = {"fn": "train_digits", "X_train": X_train[:n], "y_train": y_train[:n], "kwargs": dict(DIGITS_KWARGS),
              "X_test": X_train[n:], "y_test": y_train[n:], "X_transfer": [], "eval_eps": DIGITS_EPS,
              "targets": DIGITS_PUBLIC_TARGETS}
    return [Case("train on digits normally and adversarially; test clean and under attack", inputs,
                 driver="robust_training", timeout=30, measure=attacks.measure_robust_training,
                 oracle=attacks.robust_training_met, private=private),
            Case(f"the same on {n:,} training images, tested on the other {len(X_train) - n} "
                 "(no transfer attacks)", public, driver="robust_training", timeout=30, public_only=True,
                 measure=attacks.measure_robust_training, oracle=attacks.robust_training_met)]


def _missed(check, unless=()):
    """A pattern over the measured output: this target is missed (while those in `unless` are met)."""
    return patterns.missed(_DIGITS_LABELS[check], unless=tuple(_DIGITS_LABELS[c] for c in unless))


GRADIENT_MASKING_HINT = (
    "gradient masking: an attack that follows your model's own gradients fails even at eps=0.5, where no model "
    "can be robust, so the gradients are hidden rather than the model robust. Scaling the logits up makes the "
    "gradient of cross-entropy vanish; a Tanh or Sigmoid saturated by huge weights makes every gradient vanish. "
    "Robust accuracy here is also measured with PGD on the margin and transfer attacks, which masking does not "
    "stop: train with adversarial_training_step instead")


# Forbidden shortcuts are families (grader/static/families.py): every spelling of the operation.
DROPOUT_SHORTCUTS = ("dropout",)  # F.dropout*, torch.native_dropout, nn.Dropout... (torch.bernoulli is allowed)
BATCHNORM_SHORTCUTS = ("normalization",)  # F.batch_norm, torch.native_batch_norm, layer/instance/group norm...

EXERCISES = [
    Exercise(
        name="l1_penalty",
        entry=("l1_penalty",),
        cases=penalty_cases("l1_penalty"),
        mistakes=_mistakes(
            "l1_penalty",
            ("the L1 penalty sums absolute values |w|", m.l1_no_abs),
            ("sum over the entries; do not average", m.l1_mean),
            ("add up the penalty of every tensor in params, not only the first", m.l1_first_only),
        ),
    ),
    Exercise(
        name="l2_penalty",
        entry=("l2_penalty",),
        cases=penalty_cases("l2_penalty"),
        mistakes=_mistakes(
            "l2_penalty",
            ("the L2 penalty is the squared norm, sum of w ** 2, with no square root", m.l2_norm),
            ("this exercise's penalty is lam * sum(w ** 2), without a factor 1/2", m.l2_half),
            ("sum over the entries; do not average", m.l2_mean),
        ),
    ),
    Exercise(
        name="dropout_forward",
        entry=("dropout_forward",),
        cases=dropout_cases,
        forbidden=DROPOUT_SHORTCUTS,
        forbidden_hint="draw the mask yourself, e.g. with torch.rand(..., generator=generator)",
        mistakes=_mistakes(
            "dropout_forward",
            ("inverted dropout scales the kept values by 1 / (1 - p) so the expected output equals x", m.dropout_not_scaled),
            ("divide the kept values by (1 - p); do not multiply", m.dropout_scaled_down),
            ("p is the probability of dropping a value, not of keeping it", m.dropout_keeps_with_p),
            ("in eval mode (train=False) dropout does nothing: return x", m.dropout_ignores_train),
            ("with p == 1 every value is dropped: return zeros instead of dividing by 1 - p = 0", m.dropout_divides_by_zero),
            ("draw the random numbers with generator=generator when one is given", m.dropout_ignores_generator),
            ("scale the kept values by 1 / (1 - p) once: you divided by (1 - p) twice", m.dropout_scaled_twice),
        ) + (
            Mistake(OWN_MASK_HINT, when=patterns.flag_off(stochastic.OWN_MASK)),
            Mistake(OWN_MASK_HINT, when=patterns.flag_off(stochastic.OWN_DRAW)),
        ),
    ),
    Exercise(
        name="batchnorm_forward",
        entry=("batchnorm_forward",),
        cases=batchnorm_cases,
        outputs=("out", "new_running_mean", "new_running_var"),
        forbidden=BATCHNORM_SHORTCUTS,
        forbidden_hint="compute the batch mean and variance yourself",
        mistakes=_mistakes(
            "batchnorm_forward",
            ("normalise with the biased batch variance (divide by N); only the running variance uses N - 1", m.bn_unbiased_normalise),
            ("the running variance is updated with the unbiased batch variance (divide by N - 1), as PyTorch does", m.bn_biased_running),
            ("momentum weighs the new batch statistic: new = (1 - momentum) * running + momentum * batch", m.bn_momentum_swapped),
            ("in eval mode (train=False) normalise with the running mean and variance, not the batch's", m.bn_batch_stats_in_eval),
            ("eps goes inside the square root: sqrt(var + eps)", m.bn_eps_outside),
            ("in eval mode the running statistics stay as they are", m.bn_updates_in_eval),
        ),
    ),
    Exercise(
        name="early_stopping",
        entry=("early_stopping",),
        cases=early_cases,
        outputs=("stop_epoch", "best_epoch"),
        mistakes=_mistakes(
            "early_stopping",
            ("count epochs from 0: the first loss is epoch 0", m.early_one_based),
            ("an epoch improves only when its loss is below the best by more than min_delta; an equal loss does not", m.early_ties_improve),
            ("an improvement must beat the best loss by more than min_delta", m.early_ignores_min_delta),
            ("stop at the patience-th epoch in a row without improvement, not one later", m.early_one_late),
            ("reset the count of epochs without improvement when the loss improves", m.early_no_reset),
        ),
    ),
    Exercise(
        name="fgsm_attack",
        entry=("fgsm_attack",),
        cases=fgsm_cases,
        mistakes=_mistakes(
            "fgsm_attack",
            ("an attack increases the loss: add eps * sign(gradient), do not subtract it", m.fgsm_descends),
            ("clamp the result to the valid pixel range [0, 1]", m.fgsm_no_clamp),
            ("FGSM steps along the sign of the gradient, so every pixel moves by exactly eps", m.fgsm_raw_gradient),
        ),
    ),
    Exercise(
        name="pgd_attack",
        entry=("pgd_attack",),
        cases=pgd_cases,
        mistakes=_mistakes(
            "pgd_attack",
            ("after every step project back onto the eps-ball around the original x: clamp x_adv to [x - eps, x + eps]", m.pgd_no_projection),
            ("after projecting, clamp to the valid pixel range [0, 1]", m.pgd_no_clamp),
            ("each step has size alpha; eps is only the radius of the ball", m.pgd_step_eps),
            ("take each step from the projected point: project x_adv back onto the eps-ball and [0, 1] after every "
             "step and compute the next gradient there, not at the unprojected point", m.pgd_grad_unprojected),
            ("an attack increases the loss: add alpha * sign(gradient)", m.pgd_descends),
            ("with random_start=True start from x plus uniform noise in [-eps, eps]", m.pgd_no_random_start),
            ("draw the random start with generator=generator", m.pgd_global_rng),
        ),
    ),
    Exercise(
        name="adversarial_training_step",
        entry=("adversarial_training_step", "pgd_attack"),
        uses=("pgd_attack",),
        cases=adversarial_step_cases,
        outputs=(),
        mistakes=_mistakes(
            "adversarial_training_step",
            ("call optimizer.zero_grad() before loss.backward(): old gradients would be added in", m.adv_step_no_zero_grad),
            ("the loss is CE on the clean batch plus CE on the adversarial batch", m.adv_step_adversarial_only),
            ("add the two losses; do not average them", m.adv_step_mean),
            ("make the adversarial batch with pgd_attack(model, x, y, eps, alpha, steps), not FGSM", m.adv_step_fgsm),
        ),
    ),
    Exercise(
        name="elastic_net_penalty",
        entry=("elastic_net_penalty",),
        cases=elastic_cases,
        mistakes=_mistakes(
            "elastic_net_penalty",
            ("the L2 part is l2 * sum(w ** 2), the squared norm with no square root", m.elastic_l2_norm),
            ("this course's L2 part has no factor 1/2: l2 * sum(w ** 2)", m.elastic_l2_half),
            ("l1 weighs the sum of |w| and l2 the sum of w ** 2: you swapped them", m.elastic_swapped),
            ("the L1 part sums absolute values |w|", m.elastic_no_abs),
            ("sum over the entries; do not average", m.elastic_mean),
        ),
    ),
    Exercise(
        name="decay_parameter_groups",
        entry=("decay_parameter_groups",),
        cases=param_group_cases,
        outputs=("decay", "no_decay"),
        mistakes=_mistakes(
            "decay_parameter_groups",
            ("the scale and shift of normalisation layers (BatchNorm, LayerNorm, GroupNorm) are not penalised "
             "either: put every parameter of those layers in no_decay", m.groups_bias_only),
            ("decide by the layer a parameter belongs to, not by its shape: a LayerNorm over two dimensions has a "
             "2-d weight, and it is not penalised", m.groups_by_ndim),
            ("return (decay, no_decay) in that order: the weights to penalise first", m.groups_swapped),
            ("visit every module, nested ones too: model.modules() recurses into blocks, model.children() does not",
             m.groups_children_only),
        ),
    ),
    Exercise(
        name="k_fold_indices",
        entry=("k_fold_indices",),
        cases=kfold_cases,
        mistakes=(
            Mistake("cut the shuffled indices into sizes that differ by at most one: the first n % k folds get "
                    "n // k + 1 indices, the others n // k (torch.chunk makes too few or too uneven folds)",
                    when=patterns.flag_off(properties.FOLD_SIZES)),
            Mistake("every index must land in exactly one fold: do not drop the n % k indices left over",
                    when=patterns.flag_off(properties.FOLD_PARTITION)),
            Mistake("shuffle with torch.randperm(n, generator=generator) before cutting the folds",
                    when=patterns.flag_off(properties.FOLD_SHUFFLED)),
            Mistake("draw the permutation from `generator` (torch.randperm(n, generator=generator)), so that a "
                    "seed gives the same folds", when=patterns.flag_off(properties.FOLD_SAME)),
            Mistake("return the folds as tensors of int64 indices (torch.randperm gives them)",
                    when=patterns.flag_off(properties.FOLD_INTS)),
        ),
    ),
    Exercise(
        name="augment_batch",
        entry=("augment_batch",),
        cases=augment_cases,
        mistakes=(
            Mistake("do not change x in place (x.flip_, x[...] = ...): build the output from new tensors",
                    when=patterns.flag_off(properties.AUG_INPUT)),
            Mistake("a horizontal flip mirrors left and right: flip the last dimension, x.flip(-1), not the rows",
                    when=patterns.flag_off(properties.AUG_UPRIGHT)),
            Mistake("pad each image with zeros by pad on every side (F.pad(x, (pad, pad, pad, pad))), then cut an "
                    "H x W window at offsets dy, dx in 0..2 * pad; flip whole images left-right (x.flip(-1))",
                    when=patterns.flag_off(properties.AUG_CROP)),
            # before the flip rate: `missed` compares the rate exactly, so it holds whenever a rate case fails
            Mistake("draw the two offsets of each image from 0..2 * pad inclusive: torch.randint excludes its upper "
                    "bound, so use torch.randint(0, 2 * pad + 1, ...), and draw them per image",
                    when=patterns.flag_off(properties.AUG_SHIFTS)),
            Mistake("flip each image on its own with probability flip_p: flip where torch.rand(N, generator=generator) "
                    "< flip_p (one coin per image, not one for the batch, and not 1 - flip_p)",
                    when=patterns.missed(properties.AUG_RATE, unless=(properties.AUG_SHAPE, properties.AUG_CROP,
                                                                   properties.AUG_SHIFTS))),
            Mistake("draw every random number from `generator` (torch.rand(..., generator=generator), "
                    "torch.randint(..., generator=generator))", when=patterns.flag_off(properties.AUG_SAME)),
        ),
    ),
    Exercise(
        name="input_saliency",
        entry=("input_saliency",),
        cases=saliency_cases,
        mistakes=_mistakes(
            "input_saliency",
            ("return the signed gradient; take its absolute value only when you rank features", m.saliency_abs),
            ("differentiate the raw score of the target class (the logit), not its softmax probability",
             m.saliency_softmax),
            ("differentiate the raw score of the target class, not its log-softmax", m.saliency_log_softmax),
            ("use the class given in `target`, not the predicted one", m.saliency_predicted),
            ("differentiate only the score of each example's target class, not the sum of all scores",
             m.saliency_all_scores),
            ("the saliency is the gradient of the target's score, not of the cross-entropy loss", m.saliency_loss),
            ("return the gradient itself, not gradient times input", m.saliency_times_input),
        ),
    ),
    Exercise(
        name="adversarial_digits",
        entry=("train_digits",),
        uses=("adversarial_training_step",),
        cases=digits_cases,
        # recognised from the measurements (patterns), so no model is trained again to recognise them
        mistakes=(
            Mistake(GRADIENT_MASKING_HINT, when=_missed("sanity")),
            Mistake("with adversarial=True every mini-batch step must be an adversarial_training_step: the "
                    "adversarially trained model is hardly more robust than the standard one",
                    when=_missed("gain", unless=("clean_adv", "sanity"))),
        ),
    ),
]
