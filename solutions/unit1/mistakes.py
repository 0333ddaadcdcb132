"""Typical wrong implementations for Unit 1, each recognised by the checks with a hint."""
import torch

from .shallow import ACTIVATIONS


# perceptron_forward -------------------------------------------------------
def perceptron_no_activation(x, w, b, activation="sigmoid"):
    if activation not in ACTIVATIONS:
        raise ValueError(activation)
    return x @ w + b


def perceptron_no_bias(x, w, b, activation="sigmoid"):
    if activation not in ACTIVATIONS:
        raise ValueError(activation)
    return ACTIVATIONS[activation](x @ w)


def perceptron_step_ge(x, w, b, activation="sigmoid"):
    if activation not in ACTIVATIONS:
        raise ValueError(activation)
    z = x @ w + b
    return (z >= 0).to(z.dtype) if activation == "step" else ACTIVATIONS[activation](z)


def perceptron_step_bool(x, w, b, activation="sigmoid"):
    if activation not in ACTIVATIONS:
        raise ValueError(activation)
    z = x @ w + b
    return z > 0 if activation == "step" else ACTIVATIONS[activation](z)


def perceptron_no_value_error(x, w, b, activation="sigmoid"):
    return ACTIVATIONS.get(activation, torch.sigmoid)(x @ w + b)


# delta_rule_update --------------------------------------------------------
def delta_rule_sign(w, x, target, lr):
    return w + lr * (x @ w - target) * x


def delta_rule_no_lr(w, x, target, lr):
    return w + (target - x @ w) * x


def delta_rule_returns_step(w, x, target, lr):
    return lr * (target - x @ w) * x


# logistic_regression_step -------------------------------------------------
def _bce(w, b, X, y):
    z = X @ w + b
    return torch.nn.functional.binary_cross_entropy_with_logits(z, y)


def logistic_loss_after(w, b, X, y, lr):
    p = torch.sigmoid(X @ w + b)
    dz = (p - y) / X.shape[0]
    w2, b2 = w - lr * (X.T @ dz), b - lr * dz.sum()
    return w2, b2, _bce(w2, b2, X, y)


def logistic_summed(w, b, X, y, lr):
    dz = torch.sigmoid(X @ w + b) - y
    return w - lr * (X.T @ dz), b - lr * dz.sum(), _bce(w, b, X, y)


def logistic_ascent(w, b, X, y, lr):
    dz = (torch.sigmoid(X @ w + b) - y) / X.shape[0]
    return w + lr * (X.T @ dz), b + lr * dz.sum(), _bce(w, b, X, y)


def logistic_no_bias_update(w, b, X, y, lr):
    dz = (torch.sigmoid(X @ w + b) - y) / X.shape[0]
    return w - lr * (X.T @ dz), b, _bce(w, b, X, y)


# softmax ------------------------------------------------------------------
def softmax_no_max(z, dim=-1):
    e = z.exp()
    return e / e.sum(dim=dim, keepdim=True)


def softmax_last_axis(z, dim=-1):
    e = (z - z.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def softmax_first_axis(z, dim=-1):
    e = (z - z.amax(dim=0, keepdim=True)).exp()
    return e / e.sum(dim=0, keepdim=True)


def softmax_global_sum(z, dim=-1):
    e = (z - z.max()).exp()
    return e / e.sum()


# softmax_cross_entropy ----------------------------------------------------
def _probs(scores):
    e = (scores - scores.amax(dim=1, keepdim=True)).exp()
    return e / e.sum(dim=1, keepdim=True)


def _ce_parts(scores, y):
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    p = _probs(scores)
    log_p = scores - scores.logsumexp(dim=1, keepdim=True)   # one bug at a time: the loss stays stable
    loss_sum = -log_p[rows, y].sum()
    grad = p.clone()
    grad[rows, y] -= 1
    return N, rows, p, loss_sum, grad


def ce_summed(scores, y):
    N, rows, p, loss_sum, grad = _ce_parts(scores, y)
    return loss_sum, grad


def ce_grad_not_averaged(scores, y):
    N, rows, p, loss_sum, grad = _ce_parts(scores, y)
    return loss_sum / N, grad


def ce_grad_no_correct_class(scores, y):
    N, rows, p, loss_sum, grad = _ce_parts(scores, y)
    return loss_sum / N, p / N


def ce_grad_averaged_twice(scores, y):
    N, rows, p, loss_sum, grad = _ce_parts(scores, y)
    return loss_sum / N, grad / N / N


def ce_grad_sign_flipped(scores, y):
    N, rows, p, loss_sum, grad = _ce_parts(scores, y)
    return loss_sum / N, -grad / N


def ce_no_max(scores, y):
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    e = scores.exp()
    p = e / e.sum(dim=1, keepdim=True)
    grad = p.clone()
    grad[rows, y] -= 1
    return -p[rows, y].log().mean(), grad / N


# multiclass_hinge_loss ----------------------------------------------------
def _hinge_parts(scores, y, margin, keep_correct=False):
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    margins = (scores - scores[rows, y].unsqueeze(1) + margin).clamp(min=0)
    if not keep_correct:
        margins[rows, y] = 0
    return N, rows, margins


def hinge_includes_correct(scores, y, margin=1.0):
    N, rows, margins = _hinge_parts(scores, y, margin, keep_correct=True)
    active = (margins > 0).to(scores.dtype)
    grad = active.clone()
    grad[rows, y] = -active.sum(dim=1) + 1
    return margins.sum() / N, grad / N


def hinge_grad_no_correct_class(scores, y, margin=1.0):
    N, rows, margins = _hinge_parts(scores, y, margin)
    active = (margins > 0).to(scores.dtype)
    return margins.sum() / N, active / N


def hinge_grad_only_correct_class(scores, y, margin=1.0):
    N, rows, margins = _hinge_parts(scores, y, margin)
    grad = torch.zeros_like(scores)
    grad[rows, y] = -(margins > 0).to(scores.dtype).sum(dim=1)
    return margins.sum() / N, grad / N


def hinge_grad_not_averaged(scores, y, margin=1.0):
    N, rows, margins = _hinge_parts(scores, y, margin)
    active = (margins > 0).to(scores.dtype)
    grad = active.clone()
    grad[rows, y] = -active.sum(dim=1)
    return margins.sum() / N, grad


def hinge_summed(scores, y, margin=1.0):
    N, rows, margins = _hinge_parts(scores, y, margin)
    active = (margins > 0).to(scores.dtype)
    grad = active.clone()
    grad[rows, y] = -active.sum(dim=1)
    return margins.sum(), grad


def hinge_margin_one(scores, y, margin=1.0):
    N, rows, margins = _hinge_parts(scores, y, 1.0)
    active = (margins > 0).to(scores.dtype)
    grad = active.clone()
    grad[rows, y] = -active.sum(dim=1)
    return margins.sum() / N, grad / N


# least_squares ------------------------------------------------------------
def _centred(X, y):
    x_mean, y_mean = X.mean(dim=0), y.mean()
    return x_mean, y_mean, X - x_mean, y - y_mean


def _eye(X):
    return torch.eye(X.shape[1], dtype=X.dtype, device=X.device)


def ls_bias_penalised(X, y, l2=0.0):
    A = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)], dim=1)
    theta = torch.linalg.solve(A.T @ A + l2 * torch.eye(A.shape[1], dtype=X.dtype, device=X.device), A.T @ y)
    return theta[:-1], theta[-1]


def ls_no_bias(X, y, l2=0.0):
    w = torch.linalg.solve(X.T @ X + l2 * _eye(X), X.T @ y)
    return w, torch.zeros((), dtype=X.dtype, device=X.device)


def ls_ignores_l2(X, y, l2=0.0):
    x_mean, y_mean, Xc, yc = _centred(X, y)
    w = torch.linalg.solve(Xc.T @ Xc, Xc.T @ yc)
    return w, y_mean - x_mean @ w


def ls_l2_times_n(X, y, l2=0.0):
    x_mean, y_mean, Xc, yc = _centred(X, y)
    w = torch.linalg.solve(Xc.T @ Xc + l2 * X.shape[0] * _eye(X), Xc.T @ yc)
    return w, y_mean - x_mean @ w


def ls_uncentred_w(X, y, l2=0.0):
    w = torch.linalg.solve(X.T @ X + l2 * _eye(X), X.T @ y)
    return w, y.mean() - X.mean(dim=0) @ w


# squared_hinge_loss -------------------------------------------------------
def _sq_hinge(scores, y, margin=1.0, keep_correct=False, power=2, two=2.0):
    N, rows, margins = _hinge_parts(scores, y, margin, keep_correct)
    if power == 1:
        grad = (margins > 0).to(scores.dtype)
    else:
        grad = two * margins
    grad[rows, y] = 0
    grad[rows, y] = -grad.sum(dim=1)
    return (margins ** power).sum(), grad, N


def sq_hinge_no_two(scores, y, margin=1.0):
    loss, grad, N = _sq_hinge(scores, y, margin, two=1.0)
    return loss / N, grad / N


def sq_hinge_not_squared(scores, y, margin=1.0):
    loss, grad, N = _sq_hinge(scores, y, margin, power=1)
    return loss / N, grad / N


def sq_hinge_includes_correct(scores, y, margin=1.0):
    loss, grad, N = _sq_hinge(scores, y, margin, keep_correct=True)
    return loss / N, grad / N


def sq_hinge_summed(scores, y, margin=1.0):
    loss, grad, N = _sq_hinge(scores, y, margin)
    return loss, grad


def sq_hinge_grad_not_averaged(scores, y, margin=1.0):
    loss, grad, N = _sq_hinge(scores, y, margin)
    return loss / N, grad


def sq_hinge_grad_no_correct_class(scores, y, margin=1.0):
    N, rows, margins = _hinge_parts(scores, y, margin)
    return (margins ** 2).sum() / N, 2 * margins / N


def sq_hinge_margin_one(scores, y, margin=1.0):
    loss, grad, N = _sq_hinge(scores, y, 1.0)
    return loss / N, grad / N


# Autoencoder --------------------------------------------------------------
class AutoencoderLinear(torch.nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = torch.nn.Linear(d_in, d_code)
        self.decoder = torch.nn.Linear(d_code, d_in)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class AutoencoderTanh(AutoencoderLinear):
    def forward(self, x):
        return self.decoder(torch.tanh(self.encoder(x)))


class AutoencoderReluOut(AutoencoderLinear):
    def forward(self, x):
        return torch.relu(self.decoder(torch.relu(self.encoder(x))))


# reconstruction_scores ----------------------------------------------------
def _squared_error(model, x):
    with torch.no_grad():
        return (model(x) - x) ** 2


def scores_one_number(model, x):
    return _squared_error(model, x).mean()


def scores_over_samples(model, x):
    return _squared_error(model, x).mean(dim=0)


def scores_summed(model, x):
    return _squared_error(model, x).sum(dim=1)


def scores_rmse(model, x):
    return _squared_error(model, x).mean(dim=1).sqrt()


def scores_reconstruction(model, x):
    with torch.no_grad():
        return model(x)
