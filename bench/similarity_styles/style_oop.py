# Independent Unit 1 solutions, style "helpers": small helper functions, descriptive names, asserts on shapes.
import math

import torch
from torch import nn


def _affine(inputs, weights, bias):
    return inputs @ weights + bias


def _stable_exp(logits, axis):
    largest, _ = logits.max(dim=axis, keepdim=True)
    return (logits - largest).exp()


def perceptron_forward(x, w, b, activation="sigmoid"):
    pre_activation = _affine(x, w, b)
    if activation == "step":
        return (pre_activation > 0).type(pre_activation.dtype)
    if activation == "relu":
        return pre_activation.clamp(min=0)
    if activation == "tanh":
        return pre_activation.tanh()
    if activation == "sigmoid":
        return pre_activation.sigmoid()
    raise ValueError(f"unsupported activation '{activation}'")


def delta_rule_update(w, x, target, lr):
    output = (w * x).sum()
    residual = target - output
    step_size = lr * residual
    updated = w + step_size * x
    return updated


def logistic_regression_step(w, b, X, y, lr):
    num_samples = X.size(0)
    margins = _affine(X, w, b)
    log_p = nn.functional.logsigmoid(margins)
    log_not_p = nn.functional.logsigmoid(-margins)
    loss_value = -(y * log_p + (1.0 - y) * log_not_p).sum() / num_samples
    error = margins.sigmoid() - y
    w_grad = X.t().mv(error) / num_samples
    b_grad = error.mean()
    return w - lr * w_grad, b - lr * b_grad, loss_value


def softmax(z, dim=-1):
    unnormalised = _stable_exp(z, dim)
    assert unnormalised.shape == z.shape
    return unnormalised / unnormalised.sum(dim=dim, keepdim=True)


def softmax_cross_entropy(scores, y):
    batch_size, num_classes = scores.shape
    index = torch.arange(batch_size)
    unnormalised = _stable_exp(scores, 1)
    partition = unnormalised.sum(dim=1, keepdim=True)
    log_probabilities = (scores - scores.max(dim=1, keepdim=True).values) - partition.log()
    loss_value = -log_probabilities[index, y].mean()
    gradient = unnormalised / partition
    gradient[index, y] = gradient[index, y] - 1.0
    gradient = gradient / batch_size
    assert gradient.shape == (batch_size, num_classes)
    return loss_value, gradient


def _violations(scores, y, margin):
    batch_size = scores.size(0)
    index = torch.arange(batch_size)
    true_scores = scores[index, y].view(batch_size, 1)
    slack = scores - true_scores + margin
    slack[index, y] = 0.0
    return index, slack.clamp(min=0.0)


def multiclass_hinge_loss(scores, y, margin=1.0):
    index, violation = _violations(scores, y, margin)
    batch_size = scores.size(0)
    mask = (violation > 0).type(scores.dtype)
    gradient = mask.clone()
    gradient[index, y] = -mask.sum(dim=1)
    return violation.sum() / batch_size, gradient / batch_size


def least_squares(X, y, l2=0.0):
    feature_means = X.mean(0)
    target_mean = y.mean()
    centred = X - feature_means
    gram = centred.t() @ centred
    gram = gram + l2 * torch.eye(gram.size(0), dtype=X.dtype)
    weights = torch.linalg.solve(gram, centred.t() @ (y - target_mean))
    bias = target_mean - torch.dot(feature_means, weights)
    return weights, bias


def squared_hinge_loss(scores, y, margin=1.0):
    index, violation = _violations(scores, y, margin)
    batch_size = scores.size(0)
    gradient = 2.0 * violation
    gradient[index, y] = -gradient.sum(dim=1)
    return violation.pow(2).sum() / batch_size, gradient / batch_size


class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)
        self.code_size = d_code
        assert math.isfinite(d_in)

    def encode(self, x):
        return torch.relu(self.encoder(x))

    def forward(self, x):
        return self.decoder(self.encode(x))


def reconstruction_scores(model, x):
    with torch.inference_mode():
        reconstruction = model(x)
    squared_error = (reconstruction - x).square()
    return squared_error.mean(dim=1)
