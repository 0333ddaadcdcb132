"""Typical wrong Unit 1 implementations, each failing with the hint meant for it.

The wrong versions are written here as a student would write them; they are
not taken from solutions/unit1/mistakes.py.
"""
import pytest

from helpers import assert_fails_with, check_source

HEADER = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"

CATALOGUE = [
    # (exercise, student source, hint substring or None for a plain failure, message substring)
    ("perceptron_forward", """
def perceptron_forward(x, w, b, activation="sigmoid"):
    if activation not in ("sigmoid", "tanh", "relu", "step"):
        raise ValueError(activation)
    return x @ w + b
""", "apply the activation", ""),
    ("perceptron_forward", """
def perceptron_forward(x, w, b, activation="sigmoid"):
    g = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
         "step": lambda z: (z >= 0).to(z.dtype)}
    if activation not in g:
        raise ValueError(activation)
    return g[activation](x @ w + b)
""", "at z = 0 it is 0", ""),
    ("perceptron_forward", """
def perceptron_forward(x, w, b, activation="sigmoid"):
    z = x @ w + b
    if activation == "step":
        return z > 0
    if activation not in ("sigmoid", "tanh", "relu"):
        raise ValueError(activation)
    return getattr(torch, activation)(z)
""", "bool tensor", "got dtype bool"),
    ("perceptron_forward", """
def perceptron_forward(x, w, b, activation="sigmoid"):
    g = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
    if activation not in g and activation != "step":
        raise ValueError(activation)
    return g.get(activation, lambda z: (z > 0).to(z.dtype))(x @ w)
""", "add the bias", ""),
    ("perceptron_forward", """
def perceptron_forward(x, w, b, activation="sigmoid"):
    z = x @ w + b
    if activation == "tanh":
        return torch.tanh(z)
    if activation == "relu":
        return torch.relu(z)
    if activation == "step":
        return (z > 0).to(z.dtype)
    return torch.sigmoid(z)
""", "raise ValueError", "expected 'raises ValueError'"),
    ("perceptron_forward", """
def perceptron_forward(x, w, b, activation="sigmoid"):
    return torch.sigmoid(w @ x.T + b) if activation == "sigmoid" else None
""", None, ""),
    ("delta_rule_update", """
def delta_rule_update(w, x, target, lr):
    return w - lr * (target - x @ w) * x
""", "target - prediction", ""),
    ("delta_rule_update", """
def delta_rule_update(w, x, target, lr):
    return w + (target - x @ w) * x
""", "learning rate", ""),
    ("delta_rule_update", """
def delta_rule_update(w, x, target, lr):
    w += lr * (target - x @ w) * x
    return w
""", None, "modified its input `w` in place"),
    ("logistic_regression_step", """
def logistic_regression_step(w, b, X, y, lr):
    p = torch.sigmoid(X @ w + b)
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    g = p - y
    return w - lr * X.T @ g, b - lr * g.sum(), loss
""", "divide by N", "w_new:"),
    ("logistic_regression_step", """
def logistic_regression_step(w, b, X, y, lr):
    p = torch.sigmoid(X @ w + b)
    g = (p - y) / X.shape[0]
    w2, b2 = w - lr * X.T @ g, b - lr * g.sum()
    p2 = torch.sigmoid(X @ w2 + b2)
    loss = -(y * p2.log() + (1 - y) * (1 - p2).log()).mean()
    return w2, b2, loss
""", "before the update", "loss:"),
    ("logistic_regression_step", """
def logistic_regression_step(w, b, X, y, lr):
    p = torch.sigmoid(X @ w + b)
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    g = (p - y) / X.shape[0]
    return w + lr * X.T @ g, b + lr * g.sum(), loss
""", "against the gradient", ""),
    ("logistic_regression_step", """
def logistic_regression_step(w, b, X, y, lr):
    p = torch.sigmoid(X @ w + b)
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    g = (p - y) / X.shape[0]
    return w - lr * X.T @ g, b, loss
""", "update the bias", "b_new:"),
    ("logistic_regression_step", """
def logistic_regression_step(w, b, X, y, lr):
    w = w.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    loss = F.binary_cross_entropy_with_logits(X @ w + b, y)
    loss.backward()
    return (w - lr * w.grad).detach(), (b - lr * b.grad).detach(), loss.detach()
""", None, "does not allow"),
    ("softmax", """
def softmax(z, dim=-1):
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
""", "subtract the max", "NaN"),
    ("softmax", """
def softmax(z, dim=-1):
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)
""", "not always along the last axis", ""),
    ("softmax", """
def softmax(z, dim=-1):
    e = torch.exp(z - z.max(dim=0, keepdim=True).values)
    return e / e.sum(dim=0, keepdim=True)
""", "wrong axis", ""),
    ("softmax", """
def softmax(z, dim=-1):
    e = torch.exp(z - z.max())
    return e / e.sum()
""", "not over the whole tensor", ""),
    ("softmax", """
def softmax(z, dim=-1):
    return F.softmax(z, dim=dim)
""", None, "uses `torch.nn.functional.softmax` (<student>, line 6), which this exercise does not allow"),
    ("softmax", """
def helper(t, d):
    return t.softmax(d)
def softmax(z, dim=-1):
    return helper(z, dim)
""", None, "`torch.Tensor.softmax`"),
    ("softmax", """
def softmax(z, dim=-1):
    z -= z.amax(dim=dim, keepdim=True)
    e = z.exp()
    return e / e.sum(dim=dim, keepdim=True)
""", None, "modified its input `z` in place"),
    ("softmax", """
def softmax(z, dim=-1):
    e = (z - z.amax(dim=dim, keepdim=True)).exp()
    return (e / e.sum(dim=dim, keepdim=True)).sum(dim=dim)
""", None, "got shape"),
    ("softmax_cross_entropy", """
def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    s = scores - scores.amax(dim=1, keepdim=True)
    p = s.exp() / s.exp().sum(dim=1, keepdim=True)
    loss = -p[torch.arange(n), y].log().sum()
    d = p.clone()
    d[torch.arange(n), y] -= 1
    return loss, d
""", "summed the loss", "loss:"),
    ("softmax_cross_entropy", """
def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    s = scores - scores.amax(dim=1, keepdim=True)
    p = s.exp() / s.exp().sum(dim=1, keepdim=True)
    loss = -p[torch.arange(n), y].log().mean()
    return loss, p / n
""", "correct-class term is missing", "dscores:"),
    ("softmax_cross_entropy", """
def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    s = scores - scores.amax(dim=1, keepdim=True)
    p = s.exp() / s.exp().sum(dim=1, keepdim=True)
    loss = -p[torch.arange(n), y].log().mean()
    d = p.clone()
    d[torch.arange(n), y] -= 1
    return loss, d
""", "divide the gradient by N", "dscores:"),
    ("softmax_cross_entropy", """
def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    p = scores.exp() / scores.exp().sum(dim=1, keepdim=True)
    loss = -p[torch.arange(n), y].log().mean()
    d = p.clone()
    d[torch.arange(n), y] -= 1
    return loss, d / n
""", "subtract the row max", ""),
    ("softmax_cross_entropy", """
def softmax_cross_entropy(scores, y):
    s = scores.clone().requires_grad_(True)
    loss = F.cross_entropy(s, y)
    loss.backward()
    return loss.detach(), s.grad
""", None, "does not allow"),
    ("multiclass_hinge_loss", """
def multiclass_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    correct = scores[torch.arange(n), y][:, None]
    m = torch.clamp(scores - correct + margin, min=0)
    loss = m.sum() / n
    active = (m > 0).to(scores.dtype)
    d = active.clone()
    d[torch.arange(n), y] = -(active.sum(dim=1) - 1)
    return loss, d / n
""", "skip j = y_i", "loss:"),
    ("multiclass_hinge_loss", """
def multiclass_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    correct = scores[torch.arange(n), y][:, None]
    m = torch.clamp(scores - correct + margin, min=0)
    m[torch.arange(n), y] = 0
    return m.sum() / n, (m > 0).to(scores.dtype) / n
""", "missing the correct-class term", "dscores:"),
    ("multiclass_hinge_loss", """
def multiclass_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    correct = scores[torch.arange(n), y][:, None]
    m = torch.clamp(scores - correct + margin, min=0)
    m[torch.arange(n), y] = 0
    active = (m > 0).to(scores.dtype)
    d = active.clone()
    d[torch.arange(n), y] = -active.sum(dim=1)
    return m.sum(), d
""", "summed the loss", ""),
    ("multiclass_hinge_loss", """
def multiclass_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    correct = scores[torch.arange(n), y][:, None]
    m = torch.clamp(scores - correct + 1.0, min=0)
    m[torch.arange(n), y] = 0
    active = (m > 0).to(scores.dtype)
    d = active.clone()
    d[torch.arange(n), y] = -active.sum(dim=1)
    return m.sum() / n, d / n
""", "use the `margin` argument", ""),
    ("multiclass_hinge_loss", """
def multiclass_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    m = (scores - scores[torch.arange(n), y][:, None] + margin).clamp(min=0)
    m[torch.arange(n), y] = 0
    d = torch.zeros_like(scores)
    d[torch.arange(n), y] = -(m > 0).sum(dim=1).to(scores.dtype)
    return m.sum() / n, d / n
""", "only the correct-class entry", "dscores:"),
    ("softmax_cross_entropy", """
def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    s = scores - scores.amax(dim=1, keepdim=True)
    p = s.exp() / s.exp().sum(dim=1, keepdim=True)
    d = p.clone()
    d[torch.arange(n), y] -= 1
    return -p[torch.arange(n), y].log().mean(), d / n
""", "log-sum-exp", "loss: got inf"),
    ("delta_rule_update", """
def delta_rule_update(w, x, target, lr):
    return lr * (target - x @ w) * x
""", "not only the step", ""),
    ("least_squares", """
def least_squares(X, y, l2=0.0):
    A = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], dim=1)
    theta = torch.linalg.solve(A.T @ A + l2 * torch.eye(A.shape[1], dtype=X.dtype), A.T @ y)
    return theta[:-1], theta[-1]
""", "leave the bias out of the penalty", ""),
    ("least_squares", """
def least_squares(X, y, l2=0.0):
    w = torch.linalg.solve(X.T @ X + l2 * torch.eye(X.shape[1], dtype=X.dtype), X.T @ y)
    return w, torch.tensor(0.0, dtype=X.dtype)
""", "fit the bias too", "w:"),
    ("least_squares", """
def least_squares(X, y, l2=0.0):
    Xc, yc = X - X.mean(0), y - y.mean()
    w = torch.linalg.pinv(Xc) @ yc
    return w, y.mean() - X.mean(0) @ w
""", "l2 times the identity", ""),
    ("least_squares", """
def least_squares(X, y, l2=0.0):
    n, d = X.shape
    Xc, yc = X - X.mean(0), y - y.mean()
    w = torch.linalg.solve(Xc.T @ Xc / n + l2 * torch.eye(d, dtype=X.dtype), Xc.T @ yc / n)
    return w, y.mean() - X.mean(0) @ w
""", "do not scale l2 by N", ""),
    ("squared_hinge_loss", """
def squared_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    r = torch.arange(n)
    m = (scores - scores[r, y][:, None] + margin).clamp(min=0)
    m[r, y] = 0
    d = m.clone()
    d[r, y] = -m.sum(1)
    return (m ** 2).sum() / n, d / n
""", "factor 2", "dscores:"),
    ("squared_hinge_loss", """
def squared_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    r = torch.arange(n)
    m = (scores - scores[r, y][:, None] + margin).clamp(min=0)
    d = 2 * m
    d[r, y] = 0
    d[r, y] = -d.sum(1)
    return (m ** 2).sum() / n, d / n
""", "skip j = y_i", "loss:"),
    ("squared_hinge_loss", """
def squared_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    r = torch.arange(n)
    m = (scores - scores[r, y][:, None] + margin).clamp(min=0)
    m[r, y] = 0
    return (m ** 2).sum() / n, 2 * m / n
""", "minus the sum of the other entries", "dscores:"),
    ("Autoencoder", """
class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)
    def forward(self, x):
        return self.decoder(self.encoder(x))
""", "without it the model is linear", ""),
    ("Autoencoder", """
class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, d_code), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(d_code, d_in), nn.Sigmoid())
    def forward(self, x):
        return self.decoder(self.encoder(x))
""", None, "encoder"),
    ("reconstruction_scores", """
def reconstruction_scores(model, x):
    return F.mse_loss(model(x), x)
""", "one score per sample", ""),
    ("reconstruction_scores", """
def reconstruction_scores(model, x):
    with torch.no_grad():
        return ((model(x) - x) ** 2).sum(dim=1)
""", "not the sum", ""),
    ("reconstruction_scores", """
def reconstruction_scores(model, x):
    model.train()
    with torch.no_grad():
        return ((model(x) - x) ** 2).mean(dim=1)
""", None, "train mode"),
]


@pytest.mark.parametrize("exercise,source,hint,message", CATALOGUE,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CATALOGUE)])
def test_wrong_implementation_fails_with_its_hint(exercise, source, hint, message):
    assert_fails_with("unit1", exercise, HEADER + source, hint, message)


def test_catalogue_covers_every_exercise():
    from helpers import COURSE

    assert {c[0] for c in CATALOGUE} == {e.name for e in COURSE.unit("unit1").exercises}


def test_logsumexp_softmax_is_accepted():
    """A numerically sound variant differs from torch.softmax by ~1e-5 at |z| = 1000 in float32."""
    result = check_source("unit1", HEADER + """
def softmax(z, dim=-1):
    return torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))
""", ["softmax"]).exercises["softmax"]
    assert result.passed, [c.message for c in result.checks if not c.passed]


def test_other_sound_implementations_are_accepted():
    result = check_source("unit1", HEADER + """
def softmax_cross_entropy(scores, y):
    n, c = scores.shape
    logp = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    onehot = torch.zeros_like(scores)
    onehot[torch.arange(n), y] = 1
    return -(onehot * logp).sum() / n, (logp.exp() - onehot) / n

def multiclass_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    loss = scores.new_zeros(())
    d = torch.zeros_like(scores)
    for i in range(n):
        for j in range(scores.shape[1]):
            if j == y[i]:
                continue
            m = scores[i, j] - scores[i, y[i]] + margin
            if m > 0:
                loss = loss + m
                d[i, j] += 1
                d[i, y[i]] -= 1
    return loss / n, d / n

def delta_rule_update(w, x, target, lr):
    return w + lr * (target - torch.dot(x, w)) * x
""", ["softmax_cross_entropy", "multiclass_hinge_loss", "delta_rule_update"])
    for ex in result.exercises.values():
        assert ex.passed, (ex.name, [c.message for c in ex.checks if not c.passed])
