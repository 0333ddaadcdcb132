"""Checks for Unit 1: every case, the oracles for gradients, and the mistakes they recognise."""
import numpy as np
import torch
import torch.nn.functional as F

from grader.compare import patterns
from grader.spec import Case, Exercise, Mistake, call_inputs

from . import mistakes as m

DTYPES = (np.float32, np.float64)
NAME = {np.float32: "float32", np.float64: "float64"}


def _normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# perceptron_forward --------------------------------------------------------
def perceptron_cases(rng):
    cases = []
    for dtype in DTYPES:
        for act in ("sigmoid", "tanh", "relu", "step"):
            x, w = _normal(rng, (6, 4), dtype), _normal(rng, (4,), dtype)
            b = np.array(rng.standard_normal(), dtype=dtype)
            cases.append(Case(f"{act}, batch of 6, {NAME[dtype]}",
                              call_inputs("perceptron_forward", {"x": x, "w": w, "b": b}, activation=act)))
    x, w = _normal(rng, (5,), np.float32), _normal(rng, (5,), np.float32)
    cases.append(Case("one sample of shape (5,), float bias",
                      call_inputs("perceptron_forward", {"x": x, "w": w, "b": 0.25}, activation="tanh")))
    x = _normal(rng, (4, 3), np.float64)
    x[1] = 0.0
    cases.append(Case("step at exactly z = 0",
                      call_inputs("perceptron_forward", {"x": x, "w": _normal(rng, (3,), np.float64), "b": 0.0},
                                  activation="step")))
    cases.append(Case("default activation is sigmoid",
                      call_inputs("perceptron_forward", {"x": _normal(rng, (3, 2), np.float32),
                                                         "w": _normal(rng, (2,), np.float32), "b": -0.5})))
    cases.append(Case("unknown activation raises ValueError",
                      {**call_inputs("perceptron_forward", {"x": _normal(rng, (2, 2), np.float32),
                                                            "w": _normal(rng, (2,), np.float32), "b": 0.0},
                                     activation="softplus"), "expect": "ValueError"},
                      driver="call_raises"))
    return cases


# delta_rule_update ---------------------------------------------------------
def delta_cases(rng):
    cases = []
    for dtype in DTYPES:
        for dim in (3, 8):
            args = {"w": _normal(rng, (dim,), dtype), "x": _normal(rng, (dim,), dtype),
                    "target": float(rng.standard_normal()), "lr": 0.1}
            cases.append(Case(f"{dim} weights, {NAME[dtype]}", call_inputs("delta_rule_update", args)))
    args = {"w": _normal(rng, (4,), np.float64), "x": _normal(rng, (4,), np.float64),
            "target": np.array(2.0), "lr": 0.5}
    cases.append(Case("target as a 0-d tensor, lr 0.5", call_inputs("delta_rule_update", args)))
    return cases


# logistic_regression_step --------------------------------------------------
def logistic_oracle(inputs, ctx):
    """Loss and gradient from autograd on binary_cross_entropy_with_logits."""
    w, b, X, y = (ctx.convert(a) for a in inputs["args"][:4])
    lr = inputs["args"][4]
    w = w.clone().requires_grad_(True)
    b_t = torch.as_tensor(b, dtype=X.dtype, device=X.device).clone().requires_grad_(True)
    loss = F.binary_cross_entropy_with_logits(X @ w + b_t, y)
    dw, db = torch.autograd.grad(loss, (w, b_t))
    new_b = b_t.detach() - lr * db
    return w.detach() - lr * dw, new_b if isinstance(b, torch.Tensor) else new_b, loss.detach()


def logistic_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, d in ((8, 3), (32, 5)):
            X = _normal(rng, (n, d), dtype)
            y = (rng.random(n) < 0.5).astype(dtype)
            args = {"w": _normal(rng, (d,), dtype), "b": np.array(0.1, dtype=dtype), "X": X, "y": y, "lr": 0.5}
            cases.append(Case(f"{n} samples, {d} features, {NAME[dtype]}",
                              call_inputs("logistic_regression_step", args), oracle=logistic_oracle))
    X = _normal(rng, (1, 4), np.float64)
    args = {"w": _normal(rng, (4,), np.float64), "b": np.array(-0.3), "X": X, "y": np.ones(1), "lr": 0.1}
    cases.append(Case("a batch of one", call_inputs("logistic_regression_step", args), oracle=logistic_oracle))
    return cases


# softmax -------------------------------------------------------------------
def softmax_oracle(inputs, ctx):
    (z,) = (ctx.convert(a) for a in inputs["args"])
    return torch.softmax(z, dim=inputs["kwargs"].get("dim", -1))


def softmax_cases(rng):
    cases = []
    for dtype in DTYPES:
        cases.append(Case(f"shape (4, 7), {NAME[dtype]}",
                          call_inputs("softmax", {"z": _normal(rng, (4, 7), dtype)}), oracle=softmax_oracle))
        cases.append(Case(f"shape (2, 3, 5), dim=1, {NAME[dtype]}",
                          call_inputs("softmax", {"z": _normal(rng, (2, 3, 5), dtype)}, dim=1),
                          oracle=softmax_oracle))
    cases.append(Case("one vector of shape (6,)", call_inputs("softmax", {"z": _normal(rng, (6,), np.float32)}),
                      oracle=softmax_oracle))
    cases.append(Case("dim=0 on shape (5, 3)", call_inputs("softmax", {"z": _normal(rng, (5, 3), np.float64)}, dim=0),
                      oracle=softmax_oracle))
    big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]], dtype=np.float32)
    cases.append(Case("logits of magnitude 1000, float32", call_inputs("softmax", {"z": big}), oracle=softmax_oracle))
    cases.append(Case("logits of magnitude 1000, float64",
                      call_inputs("softmax", {"z": _overflowing(lambda: _normal(rng, (3, 4), np.float64, scale=800.0))}),
                      oracle=softmax_oracle))
    return cases


LARGE_LOGIT = 80.0   # exp overflows float32 from about 88.7


def _drawn_until(draw, accept) -> np.ndarray:  # noqa: ANN001
    """draw() again until accept(z): a case keeps what it is for on every seed, public or hidden
    (a first draw that is accepted is kept as it is)."""
    while True:
        z = draw()
        if accept(z):
            return z


def _overflowing(draw) -> np.ndarray:  # noqa: ANN001
    """Some entry above 710, where exp overflows float64 (from about 709.8): an unshifted exp fails."""
    return _drawn_until(draw, lambda z: z.max() > 710.0)


# softmax_cross_entropy -----------------------------------------------------
def ce_oracle(inputs, ctx):
    """Loss from F.cross_entropy and its gradient from autograd."""
    scores, y = (ctx.convert(a) for a in inputs["args"])
    scores = scores.clone().requires_grad_(True)
    loss = F.cross_entropy(scores, y)
    (grad,) = torch.autograd.grad(loss, scores)
    return loss.detach(), grad


def _labels(rng, n, c):
    return rng.integers(0, c, size=n).astype(np.int64)


def ce_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, c in ((5, 3), (16, 10)):
            cases.append(Case(f"{n} samples, {c} classes, {NAME[dtype]}",
                              call_inputs("softmax_cross_entropy",
                                          {"scores": _normal(rng, (n, c), dtype), "y": _labels(rng, n, c)}),
                              oracle=ce_oracle))
    cases.append(Case("a batch of one", call_inputs("softmax_cross_entropy", {
        "scores": _normal(rng, (1, 4), np.float64), "y": np.array([2])}), oracle=ce_oracle))
    cases.append(Case("scores of magnitude 1000", call_inputs("softmax_cross_entropy", {
        "scores": _overflowing(lambda: _normal(rng, (4, 5), np.float64, scale=1000.0)), "y": _labels(rng, 4, 5)}),
        oracle=ce_oracle))
    return cases


LOG_SUM_EXP = ("take log-probabilities with log-sum-exp: log p = s - max - log(sum(exp(s - max))); "
               "log(softmax(s)) is -inf once a probability underflows to 0 (scores that differ by more than ~745)")


# multiclass_hinge_loss -----------------------------------------------------
def hinge_oracle(inputs, ctx):
    """Loss from F.multi_margin_loss (rescaled to a sum over classes) and autograd's subgradient."""
    scores, y = (ctx.convert(a) for a in inputs["args"])
    margin = inputs["kwargs"].get("margin", 1.0)
    scores = scores.clone().requires_grad_(True)
    loss = F.multi_margin_loss(scores, y, margin=margin) * scores.shape[1]
    (grad,) = torch.autograd.grad(loss, scores)
    return loss.detach(), grad


def hinge_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, c in ((6, 4), (20, 10)):
            cases.append(Case(f"{n} samples, {c} classes, {NAME[dtype]}",
                              call_inputs("multiclass_hinge_loss",
                                          {"scores": _normal(rng, (n, c), dtype), "y": _labels(rng, n, c)}),
                              oracle=hinge_oracle))
    cases.append(Case("margin 2.5", call_inputs("multiclass_hinge_loss", {
        "scores": _normal(rng, (8, 5), np.float64, scale=2.0), "y": _labels(rng, 8, 5)}, margin=2.5),
        oracle=hinge_oracle))
    # some margin is violated, so a loss of 0 and a zero gradient are wrong here on every seed
    one = _drawn_until(lambda: _normal(rng, (1, 6), np.float64), lambda s: (s[0, 1:] + 1.0 > s[0, 0]).any())
    cases.append(Case("a batch of one", call_inputs("multiclass_hinge_loss", {"scores": one, "y": np.array([0])}),
                      oracle=hinge_oracle))
    return cases


# least_squares -------------------------------------------------------------
def _ridge_by_lstsq(X, y, l2):
    """Ridge as ordinary least squares on rows [X 1; sqrt(l2) I 0] -> [y; 0] (torch.linalg.lstsq, gelsd)."""
    N, D = X.shape
    A = torch.cat([X, torch.ones(N, 1, dtype=X.dtype)], dim=1)                  # (N, D + 1)
    if l2 > 0:
        penalty = torch.cat([l2 ** 0.5 * torch.eye(D, dtype=X.dtype), torch.zeros(D, 1, dtype=X.dtype)], dim=1)
        A, y = torch.cat([A, penalty]), torch.cat([y, torch.zeros(D, dtype=X.dtype)])
    theta = torch.linalg.lstsq(A, y.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    return theta[:D], theta[D]


def _ridge_by_normal_equations(X, y, l2):
    """(A^T A + l2 diag(1, ..., 1, 0)) theta = A^T y with A = [X 1]: the bias is not penalised."""
    N, D = X.shape
    A = torch.cat([X, torch.ones(N, 1, dtype=X.dtype)], dim=1)
    P = torch.diag(torch.cat([torch.full((D,), float(l2), dtype=X.dtype), torch.zeros(1, dtype=X.dtype)]))
    theta = torch.linalg.solve(A.T @ A + P, A.T @ y)
    return theta[:D], theta[D]


def least_squares_oracle(inputs, ctx):
    """w and b from torch.linalg.lstsq, in float64 on the CPU, confirmed by the normal equations."""
    X, y = (ctx.tensor(a).to("cpu", torch.float64) for a in inputs["args"][:2])
    l2 = float(inputs["kwargs"].get("l2", 0.0))
    w, b = _ridge_by_lstsq(X, y, l2)
    if l2 > 0 or torch.linalg.matrix_rank(X - X.mean(dim=0)) == X.shape[1]:
        w2, b2 = _ridge_by_normal_equations(X, y, l2)
        if not (torch.allclose(w, w2, rtol=1e-8, atol=1e-9) and torch.allclose(b, b2, rtol=1e-8, atol=1e-9)):
            raise AssertionError("lstsq and the normal equations disagree on a least_squares case")
    dtype = ctx.tensor(inputs["args"][0]).dtype
    return w.to(ctx.device, dtype), b.to(ctx.device, dtype)


def _regression_data(rng, n, d, dtype, rank=None):
    """X with column means far from 0 (so a missing bias shows), y = X w + b + noise."""
    X = rng.standard_normal((n, d)) + rng.uniform(-3, 3, size=d)
    if rank is not None:                       # the last columns are combinations of the first `rank`
        X[:, rank:] = X[:, :rank] @ rng.standard_normal((rank, d - rank))
    y = X @ rng.standard_normal(d) + rng.uniform(2, 5) + 0.3 * rng.standard_normal(n)
    return {"X": X.astype(dtype), "y": y.astype(dtype)}


def least_squares_cases(rng):
    cases = []
    for n, d in ((30, 4), (12, 7)):
        cases.append(Case(f"{n} samples, {d} features, no penalty", call_inputs(
            "least_squares", _regression_data(rng, n, d, np.float64)), oracle=least_squares_oracle))
    l2 = float(np.round(rng.uniform(0.2, 3.0), 2))
    cases.append(Case(f"l2 = {l2}", call_inputs("least_squares", _regression_data(rng, 25, 5, np.float64), l2=l2),
                      oracle=least_squares_oracle))
    cases.append(Case(f"rank-deficient X (two columns repeat others), l2 = {l2}", call_inputs(
        "least_squares", _regression_data(rng, 20, 6, np.float64, rank=4), l2=l2), oracle=least_squares_oracle))
    cases.append(Case("more features than samples, l2 = 0.5", call_inputs(
        "least_squares", _regression_data(rng, 6, 10, np.float64), l2=0.5), oracle=least_squares_oracle))
    cases.append(Case("float32, l2 = 1", call_inputs("least_squares", _regression_data(rng, 40, 3, np.float32), l2=1.0),
                      oracle=least_squares_oracle, rtol=1e-4, atol=1e-4))
    return cases


# squared_hinge_loss --------------------------------------------------------
def squared_hinge_oracle(inputs, ctx):
    """Loss from F.multi_margin_loss with p=2 (rescaled to a sum over classes) and its gradient from autograd."""
    scores, y = (ctx.convert(a) for a in inputs["args"])
    margin = inputs["kwargs"].get("margin", 1.0)
    scores = scores.clone().requires_grad_(True)
    loss = F.multi_margin_loss(scores, y, p=2, margin=margin) * scores.shape[1]
    (grad,) = torch.autograd.grad(loss, scores)
    return loss.detach(), grad


def squared_hinge_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, c in ((6, 4), (20, 10)):
            cases.append(Case(f"{n} samples, {c} classes, {NAME[dtype]}", call_inputs(
                "squared_hinge_loss", {"scores": _normal(rng, (n, c), dtype), "y": _labels(rng, n, c)}),
                oracle=squared_hinge_oracle))
    margin = float(np.round(rng.uniform(1.5, 3.0), 1))
    cases.append(Case(f"margin {margin}", call_inputs("squared_hinge_loss", {
        "scores": _normal(rng, (8, 5), np.float64, scale=2.0), "y": _labels(rng, 8, 5)}, margin=margin),
        oracle=squared_hinge_oracle))
    cases.append(Case("a batch of one", call_inputs("squared_hinge_loss", {
        "scores": _normal(rng, (1, 6), np.float64), "y": _labels(rng, 1, 6)}), oracle=squared_hinge_oracle))
    return cases


# Autoencoder ----------------------------------------------------------------
def _ae_state(rng, d_in, d_code):
    return {"encoder.weight": rng.standard_normal((d_code, d_in)) / np.sqrt(d_in),
            "encoder.bias": 0.5 * rng.standard_normal(d_code),
            "decoder.weight": rng.standard_normal((d_in, d_code)) / np.sqrt(d_code),
            "decoder.bias": 0.5 * rng.standard_normal(d_in)}


def autoencoder_cases(rng):
    cases = []
    for k in range(2):
        d_in, d_code = int(rng.integers(6, 20)), int(rng.integers(2, 5))
        title = f"Autoencoder({d_in}, {d_code})"
        base = {"cls": "Autoencoder", "args": [d_in, d_code], "kwargs": {}, "dtype": "float64"}
        x = rng.standard_normal((5, d_in))
        if k == 0:
            cases.append(Case(f"{title}: submodules and parameter count",
                              {**base, "x": x, "report": ["structure", "num_params"]}, driver="module"))
        cases.append(Case(f"{title}: reconstruction with given weights", {
            **base, "x": x, "state": _ae_state(rng, d_in, d_code), "report": ["eval"]}, driver="module"))
        cases.append(Case(f"{title}: gradients of the input and every parameter", {
            **base, "x": x, "state": _ae_state(rng, d_in, d_code), "report": ["grads"],
            "cotangent": rng.standard_normal((5, d_in))}, driver="module"))
    return cases


# reconstruction_scores -----------------------------------------------------
def scores_cases(rng):
    cases = []
    for dtype in DTYPES:
        for n, d, code in ((7, 10, 3), (30, 64, 8)):
            model = [rng.standard_normal((code, d)) / np.sqrt(d), 0.1 * rng.standard_normal(code),
                     rng.standard_normal((d, code)) / np.sqrt(code), 0.1 * rng.standard_normal(d)]
            cases.append(Case(f"{n} samples of {d} features, a {d}-{code}-{d} model, {NAME[dtype]}", {
                "fn": "reconstruction_scores", "model": [a.astype(dtype) for a in model],
                "x": _normal(rng, (n, d), dtype)}, driver="call_model"))
    return cases


# Forbidden shortcuts are families (grader/static/families.py): every spelling of the operation.
SOFTMAX_SHORTCUTS = ("softmax",)  # torch.softmax, F.log_softmax, z.softmax(), torch.special.*, nn.Softmax...
AUTOGRAD = ("autograd",)  # loss.backward(), torch.autograd.*, torch.func.*, functorch

EXERCISES = [
    Exercise(
        name="perceptron_forward",
        entry=("perceptron_forward",),
        cases=perceptron_cases,
        mistakes=(
            Mistake("apply the activation g to the weighted sum x @ w + b", {"perceptron_forward": m.perceptron_no_activation}),
            Mistake("add the bias b to x @ w before the activation", {"perceptron_forward": m.perceptron_no_bias}),
            Mistake("the step is 1 only where z > 0; at z = 0 it is 0", {"perceptron_forward": m.perceptron_step_ge}),
            Mistake("a comparison gives a bool tensor; convert it to z's dtype", {"perceptron_forward": m.perceptron_step_bool}),
            Mistake("raise ValueError for an activation name you do not know", {"perceptron_forward": m.perceptron_no_value_error}),
        ),
    ),
    Exercise(
        name="delta_rule_update",
        entry=("delta_rule_update",),
        cases=delta_cases,
        mistakes=(
            Mistake("the error is target - prediction, not prediction - target", {"delta_rule_update": m.delta_rule_sign}),
            Mistake("scale the step by the learning rate lr", {"delta_rule_update": m.delta_rule_no_lr}),
            Mistake("return the updated weights w + lr * error * x, not only the step", {"delta_rule_update": m.delta_rule_returns_step}),
        ),
    ),
    Exercise(
        name="logistic_regression_step",
        entry=("logistic_regression_step",),
        cases=logistic_cases,
        outputs=("w_new", "b_new", "loss"),
        forbidden=AUTOGRAD,
        forbidden_hint="derive the gradient by hand: d loss / dz = (sigmoid(z) - y) / N",
        mistakes=(
            Mistake("return the loss computed before the update, not after it", {"logistic_regression_step": m.logistic_loss_after}),
            Mistake("the loss is a mean over the batch, so average the gradient too (divide by N)", {"logistic_regression_step": m.logistic_summed}),
            Mistake("gradient descent steps against the gradient: w - lr * dw", {"logistic_regression_step": m.logistic_ascent}),
            Mistake("update the bias too: b - lr * db", {"logistic_regression_step": m.logistic_no_bias_update}),
        ),
    ),
    Exercise(
        name="softmax",
        entry=("softmax",),
        cases=softmax_cases,
        forbidden=SOFTMAX_SHORTCUTS,
        forbidden_hint="write it with exp, a max and a sum",
        mistakes=(
            Mistake("subtract the max along dim before exp: exp(1000) overflows to inf", {"softmax": m.softmax_no_max}),
            Mistake("normalise along the `dim` argument, not always along the last axis", {"softmax": m.softmax_last_axis}),
            Mistake("wrong axis: you normalised along dim 0", {"softmax": m.softmax_first_axis}),
            Mistake("sum along dim only (keepdim=True), not over the whole tensor", {"softmax": m.softmax_global_sum}),
            Mistake("subtract the max along dim before exp: exp(1000) overflows to inf",
                    when=patterns.overflow_along_dim(min_input=LARGE_LOGIT)),
        ),
    ),
    Exercise(
        name="softmax_cross_entropy",
        entry=("softmax_cross_entropy",),
        cases=ce_cases,
        outputs=("loss", "dscores"),
        forbidden=SOFTMAX_SHORTCUTS + AUTOGRAD + ("cross_entropy",),  # F.cross_entropy, F.nll_loss, nn.NLLLoss...
        forbidden_hint="compute the loss and its gradient yourself",
        mistakes=(
            Mistake("average over the batch: you summed the loss and the gradient instead of taking the mean", {"softmax_cross_entropy": m.ce_summed}),
            Mistake("the loss is a mean, so divide the gradient by N as well", {"softmax_cross_entropy": m.ce_grad_not_averaged}),
            Mistake("the gradient is softmax(scores) minus 1 at the correct class; the correct-class term is missing", {"softmax_cross_entropy": m.ce_grad_no_correct_class}),
            Mistake("divide the gradient by N once: you divided it twice", {"softmax_cross_entropy": m.ce_grad_averaged_twice}),
            Mistake("the gradient is softmax(scores) minus the one-hot labels, not the other way round", {"softmax_cross_entropy": m.ce_grad_sign_flipped}),
            Mistake("subtract the row max before exp: large scores overflow", {"softmax_cross_entropy": m.ce_no_max}),
            Mistake("subtract the row max before exp: large scores overflow", when=patterns.overflow((1,))),
            Mistake(LOG_SUM_EXP, when=patterns.nonfinite_only((0,))),
        ),
    ),
    Exercise(
        name="multiclass_hinge_loss",
        entry=("multiclass_hinge_loss",),
        cases=hinge_cases,
        outputs=("loss", "dscores"),
        forbidden=AUTOGRAD + ("margin_loss",),  # F.multi_margin_loss, nn.MultiMarginLoss...
        forbidden_hint="compute the margins and the subgradient yourself",
        mistakes=(
            Mistake("skip j = y_i: the correct class contributes no margin to its own loss", {"multiclass_hinge_loss": m.hinge_includes_correct}),
            Mistake("the gradient is missing the correct-class term: minus the number of classes that violate the margin", {"multiclass_hinge_loss": m.hinge_grad_no_correct_class}),
            Mistake("each class j != y_i that violates the margin gets +1 in the gradient; you wrote only the correct-class entry", {"multiclass_hinge_loss": m.hinge_grad_only_correct_class}),
            Mistake("average over the batch: you summed the loss and the gradient", {"multiclass_hinge_loss": m.hinge_summed}),
            Mistake("the loss is a mean, so divide the gradient by N as well", {"multiclass_hinge_loss": m.hinge_grad_not_averaged}),
            Mistake("use the `margin` argument instead of a fixed 1", {"multiclass_hinge_loss": m.hinge_margin_one}),
        ),
    ),
    Exercise(
        name="least_squares",
        entry=("least_squares",),
        cases=least_squares_cases,
        outputs=("w", "b"),
        mistakes=(
            Mistake("leave the bias out of the penalty: centre X and y (or put a 0 for the bias on the diagonal)", {"least_squares": m.ls_bias_penalised}),
            Mistake("fit the bias too: without it the line must pass through the origin", {"least_squares": m.ls_no_bias}),
            Mistake("add l2 times the identity to the matrix you solve with (X^T X + l2 I)", {"least_squares": m.ls_ignores_l2}),
            Mistake("the penalty is l2 ||w||^2 beside the summed squared error, not beside its mean: do not scale l2 by N", {"least_squares": m.ls_l2_times_n}),
            Mistake("solve for w with the centred X and y; b = mean(y) - mean(X) @ w only holds for that w", {"least_squares": m.ls_uncentred_w}),
        ),
    ),
    Exercise(
        name="squared_hinge_loss",
        entry=("squared_hinge_loss",),
        cases=squared_hinge_cases,
        outputs=("loss", "dscores"),
        forbidden=AUTOGRAD + ("margin_loss",),
        forbidden_hint="compute the margins and the gradient yourself",
        mistakes=(
            Mistake("the derivative of m^2 is 2 m: you left out the factor 2", {"squared_hinge_loss": m.sq_hinge_no_two}),
            Mistake("square each margin: this is the plain hinge loss", {"squared_hinge_loss": m.sq_hinge_not_squared}),
            Mistake("skip j = y_i: the correct class contributes no margin to its own loss", {"squared_hinge_loss": m.sq_hinge_includes_correct}),
            Mistake("average over the batch: you summed the loss and the gradient", {"squared_hinge_loss": m.sq_hinge_summed}),
            Mistake("the loss is a mean, so divide the gradient by N as well", {"squared_hinge_loss": m.sq_hinge_grad_not_averaged}),
            Mistake("the gradient of the correct score is minus the sum of the other entries of its row (2 m_ij / N each)", {"squared_hinge_loss": m.sq_hinge_grad_no_correct_class}),
            Mistake("use the `margin` argument instead of a fixed 1", {"squared_hinge_loss": m.sq_hinge_margin_one}),
        ),
    ),
    Exercise(
        name="Autoencoder",
        entry=("Autoencoder",),
        cases=autoencoder_cases,
        mistakes=(
            Mistake("put the nonlinearity (ReLU) between encoder and decoder: without it the model is linear", {"Autoencoder": m.AutoencoderLinear}),
            Mistake("the notebook fixes ReLU between encoder and decoder, not tanh", {"Autoencoder": m.AutoencoderTanh}),
            Mistake("the decoder's output is the reconstruction itself: apply no activation after it", {"Autoencoder": m.AutoencoderReluOut}),
        ),
    ),
    Exercise(
        name="reconstruction_scores",
        entry=("reconstruction_scores",),
        cases=scores_cases,
        mistakes=(
            Mistake("one score per sample: average the squared error over the features only (dim=1)", {"reconstruction_scores": m.scores_one_number}),
            Mistake("average over the features (dim=1), not over the samples (dim=0)", {"reconstruction_scores": m.scores_over_samples}),
            Mistake("take the mean over the features, not the sum", {"reconstruction_scores": m.scores_summed}),
            Mistake("the score is the mean squared error: do not take its square root", {"reconstruction_scores": m.scores_rmse}),
            Mistake("return the error of each sample, not the reconstruction model(x)", {"reconstruction_scores": m.scores_reconstruction}),
        ),
    ),
]
