import torch
from torch import nn


def step(z):
    """Heaviside step: 1 where z > 0, else 0, in z's dtype."""
    return (z > 0).to(z.dtype)


ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "step": step,
}


def perceptron_forward(x, w, b, activation="sigmoid"):
    """g(x @ w + b) for x of shape (N, D) or (D,), w of shape (D,), scalar b."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}")
    z = x @ w + b                                  # (N,) or ()
    return ACTIVATIONS[activation](z)


def delta_rule_update(w, x, target, lr):
    """One Widrow-Hoff step for a linear unit y = x @ w on a single sample x of shape (D,)."""
    error = target - x @ w                         # ()
    return w + lr * error * x                      # (D,)


def logistic_regression_step(w, b, X, y, lr):
    """One gradient-descent step on the mean binary cross-entropy; returns (w, b, loss before)."""
    N = X.shape[0]
    z = X @ w + b                                  # (N,)
    # log(sigmoid(z)) and log(1 - sigmoid(z)) without overflow
    loss = (torch.nn.functional.softplus(-z) * y + torch.nn.functional.softplus(z) * (1 - y)).mean()
    p = torch.sigmoid(z)                           # (N,)
    dz = (p - y) / N                               # (N,)
    dw = X.T @ dz                                  # (D,)
    db = dz.sum()                                  # ()
    return w - lr * dw, b - lr * db, loss


def softmax(z, dim=-1):
    """exp(z) / sum(exp(z)) along dim, shifted by the max so that exp never overflows."""
    shifted = z - z.amax(dim=dim, keepdim=True)
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


def softmax_cross_entropy(scores, y):
    """Mean over the batch of -log softmax(scores)[y], and d loss / d scores."""
    N = scores.shape[0]
    shifted = scores - scores.amax(dim=1, keepdim=True)        # (N, C)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(N, device=scores.device)
    loss = -log_probs[rows, y].mean()
    dscores = log_probs.exp()                                  # softmax, (N, C)
    dscores[rows, y] -= 1
    return loss, dscores / N


def multiclass_hinge_loss(scores, y, margin=1.0):
    """Weston-Watkins multiclass hinge loss, averaged over the batch, and its subgradient."""
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    correct = scores[rows, y].unsqueeze(1)                     # (N, 1)
    margins = (scores - correct + margin).clamp(min=0)         # (N, C)
    margins[rows, y] = 0
    loss = margins.sum() / N
    active = (margins > 0).to(scores.dtype)                    # (N, C)
    dscores = active.clone()
    dscores[rows, y] = -active.sum(dim=1)
    return loss, dscores / N


def least_squares(X, y, l2=0.0):
    """Ridge regression in closed form: argmin ||X w + b - y||^2 + l2 ||w||^2, the bias not penalised.

    Centring X and y removes the bias from the problem; it is then b = mean(y) - mean(X) @ w.
    """
    x_mean = X.mean(dim=0)                                     # (D,)
    y_mean = y.mean()                                          # ()
    Xc, yc = X - x_mean, y - y_mean                            # (N, D), (N,)
    eye = torch.eye(X.shape[1], dtype=X.dtype, device=X.device)
    w = torch.linalg.solve(Xc.T @ Xc + l2 * eye, Xc.T @ yc)   # (D,)
    return w, y_mean - x_mean @ w


def squared_hinge_loss(scores, y, margin=1.0):
    """Multiclass squared hinge loss, averaged over the batch, and its gradient."""
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    correct = scores[rows, y].unsqueeze(1)                     # (N, 1)
    margins = torch.relu(scores - correct + margin)            # (N, C), zero where the margin holds
    margins[rows, y] = 0
    loss = (margins ** 2).sum() / N
    dscores = 2 * margins                                      # (N, C)
    dscores[rows, y] = -dscores.sum(dim=1)
    return loss, dscores / N


class Autoencoder(nn.Module):
    """x -> decoder(relu(encoder(x))): d_in -> d_code -> d_in."""

    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)

    def forward(self, x):                                      # x: (N, d_in)
        return self.decoder(torch.relu(self.encoder(x)))       # (N, d_in)


def reconstruction_scores(model, x):
    """Per-sample mean squared reconstruction error, shape (N,), without building a graph."""
    with torch.no_grad():
        x_hat = model(x)                                       # (N, D)
    return ((x_hat - x) ** 2).mean(dim=1)
