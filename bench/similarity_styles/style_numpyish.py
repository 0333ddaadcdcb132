# Independent Unit 1 solutions, style "textbook": math-first names (Z, A, dZ), explicit formulas, einsum.
import torch
from torch import nn


def perceptron_forward(x, w, b, activation="sigmoid"):
    Z = torch.einsum("...d,d->...", x, w) + b
    if activation == "sigmoid":
        A = torch.exp(-torch.logaddexp(torch.zeros_like(Z), -Z))
    elif activation == "tanh":
        A = 2 * torch.sigmoid(2 * Z) - 1
    elif activation == "relu":
        A = torch.maximum(Z, torch.zeros_like(Z))
    elif activation == "step":
        A = torch.ge(Z, 0).logical_and(Z != 0).to(Z.dtype)
    else:
        raise ValueError("activation %r is not known" % (activation,))
    return A


def delta_rule_update(w, x, target, lr):
    y_hat = torch.einsum("d,d->", w, x)
    dW = lr * (target - y_hat) * x
    return w.add(dW)


def logistic_regression_step(w, b, X, y, lr):
    m = X.shape[0]
    Z = torch.einsum("nd,d->n", X, w) + b
    A = 1 / (1 + torch.exp(-Z))
    J = torch.mean(torch.clamp(Z, min=0) - Z * y + torch.log1p(torch.exp(-torch.abs(Z))))
    dZ = A - y
    dW = torch.einsum("nd,n->d", X, dZ) / m
    dB = torch.mean(dZ)
    w_new = w - lr * dW
    b_new = b - lr * dB
    return w_new, b_new, J


def softmax(z, dim=-1):
    Zs = z - torch.amax(z, dim=dim, keepdim=True)
    num = torch.exp(Zs)
    return num / torch.sum(num, dim=dim, keepdim=True)


def softmax_cross_entropy(scores, y):
    m, K = scores.shape
    Y = torch.zeros_like(scores).scatter_(1, y.unsqueeze(1), 1.0)
    Zs = scores - torch.amax(scores, dim=1, keepdim=True)
    logP = Zs - torch.log(torch.sum(torch.exp(Zs), dim=1, keepdim=True))
    J = -torch.sum(Y * logP) / m
    dZ = (torch.exp(logP) - Y) / m
    return J, dZ


def multiclass_hinge_loss(scores, y, margin=1.0):
    m, K = scores.shape
    Y = torch.zeros_like(scores).scatter_(1, y.unsqueeze(1), 1.0)
    s_y = torch.sum(scores * Y, dim=1, keepdim=True)
    L = torch.maximum(scores - s_y + margin, torch.zeros_like(scores)) * (1 - Y)
    J = torch.sum(L) / m
    G = (L > 0).to(scores.dtype)
    dZ = G - Y * torch.sum(G, dim=1, keepdim=True)
    return J, dZ / m


def least_squares(X, y, l2=0.0):
    m, n = X.shape
    Xb = torch.hstack([torch.ones(m, 1, dtype=X.dtype), X])
    P = torch.eye(n + 1, dtype=X.dtype)
    P[0, 0] = 0
    theta = torch.linalg.pinv(Xb.T @ Xb + l2 * P) @ Xb.T @ y
    return theta[1:], theta[0]


def squared_hinge_loss(scores, y, margin=1.0):
    m, K = scores.shape
    Y = torch.zeros_like(scores).scatter_(1, y.unsqueeze(1), 1.0)
    s_y = torch.sum(scores * Y, dim=1, keepdim=True)
    L = torch.maximum(scores - s_y + margin, torch.zeros_like(scores)) * (1 - Y)
    J = torch.sum(L ** 2) / m
    G = 2 * L
    dZ = G - Y * torch.sum(G, dim=1, keepdim=True)
    return J, dZ / m


class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)

    def forward(self, x):
        H = torch.relu(self.encoder(x))
        X_hat = self.decoder(H)
        return X_hat


def reconstruction_scores(model, x):
    X_hat = model(x).detach()
    return torch.mean(torch.square(X_hat - x), dim=-1)
