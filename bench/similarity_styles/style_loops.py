# Independent Unit 1 solutions, style "loops": explicit per-sample loops, plain names, one-hot targets.
import torch
import torch.nn as nn


def perceptron_forward(x, w, b, activation="sigmoid"):
    single = x.dim() == 1
    if single:
        x = x.unsqueeze(0)
    outputs = []
    for i in range(x.shape[0]):
        total = b
        for j in range(x.shape[1]):
            total = total + x[i, j] * w[j]
        outputs.append(total)
    a = torch.stack([torch.as_tensor(o, dtype=x.dtype) for o in outputs])
    if activation == "sigmoid":
        out = 1 / (1 + torch.exp(-a))
    elif activation == "tanh":
        out = torch.tanh(a)
    elif activation == "relu":
        out = torch.where(a > 0, a, torch.zeros_like(a))
    elif activation == "step":
        out = torch.where(a > 0, torch.ones_like(a), torch.zeros_like(a))
    else:
        raise ValueError("bad activation: " + str(activation))
    if single:
        return out[0]
    return out


def delta_rule_update(w, x, target, lr):
    prediction = 0.0
    for i in range(len(w)):
        prediction = prediction + w[i] * x[i]
    new_w = w.clone()
    for i in range(len(w)):
        new_w[i] = w[i] + lr * (target - prediction) * x[i]
    return new_w


def logistic_regression_step(w, b, X, y, lr):
    n = len(y)
    logits = torch.mv(X, w) + b
    probs = torch.sigmoid(logits)
    eps = 1e-12
    loss = 0.0
    for i in range(n):
        loss = loss - (y[i] * torch.log(probs[i] + eps) + (1 - y[i]) * torch.log(1 - probs[i] + eps))
    loss = loss / n
    grad_w = torch.zeros_like(w)
    grad_b = torch.zeros_like(b)
    for i in range(n):
        diff = probs[i] - y[i]
        grad_w = grad_w + diff * X[i]
        grad_b = grad_b + diff
    return w - lr * grad_w / n, b - lr * grad_b / n, loss


def softmax(z, dim=-1):
    biggest = torch.max(z, dim=dim, keepdim=True)[0]
    numerator = torch.exp(z - biggest)
    denominator = torch.sum(numerator, dim=dim, keepdim=True)
    return numerator / denominator


def softmax_cross_entropy(scores, y):
    n, c = scores.shape
    one_hot = torch.zeros(n, c, dtype=scores.dtype)
    for i in range(n):
        one_hot[i, y[i]] = 1.0
    m = torch.max(scores, dim=1, keepdim=True)[0]
    exps = torch.exp(scores - m)
    probs = exps / torch.sum(exps, dim=1, keepdim=True)
    log_sum = torch.log(torch.sum(exps, dim=1)) + m[:, 0]
    picked = torch.sum(scores * one_hot, dim=1)
    loss = torch.mean(log_sum - picked)
    grad = (probs - one_hot) / n
    return loss, grad


def multiclass_hinge_loss(scores, y, margin=1.0):
    n, c = scores.shape
    total = scores.new_zeros(())
    grad = torch.zeros_like(scores)
    for i in range(n):
        for j in range(c):
            if j == y[i]:
                continue
            m = scores[i, j] - scores[i, y[i]] + margin
            if m > 0:
                total = total + m
                grad[i, j] += 1
                grad[i, y[i]] -= 1
    return total / n, grad / n


def least_squares(X, y, l2=0.0):
    n, d = X.shape
    ones = torch.ones(n, 1, dtype=X.dtype)
    A = torch.cat([X, ones], dim=1)
    penalty = torch.eye(d + 1, dtype=X.dtype) * l2
    penalty[d, d] = 0.0
    theta = torch.linalg.solve(A.T @ A + penalty, A.T @ y)
    return theta[:d], theta[d]


def squared_hinge_loss(scores, y, margin=1.0):
    n, c = scores.shape
    total = scores.new_zeros(())
    grad = torch.zeros_like(scores)
    for i in range(n):
        for j in range(c):
            if j != y[i]:
                m = scores[i, j] - scores[i, y[i]] + margin
                if m > 0:
                    total = total + m * m
                    grad[i, j] += 2 * m
                    grad[i, y[i]] -= 2 * m
    return total / n, grad / n


class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)

    def forward(self, x):
        hidden = self.encoder(x)
        hidden = torch.where(hidden > 0, hidden, torch.zeros_like(hidden))
        return self.decoder(hidden)


def reconstruction_scores(model, x):
    model.eval()
    with torch.no_grad():
        out = model(x)
    errors = []
    for i in range(x.shape[0]):
        errors.append(torch.mean((out[i] - x[i]) ** 2))
    return torch.stack(errors)
