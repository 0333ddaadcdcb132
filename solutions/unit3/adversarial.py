"""Unit 3 reference: FGSM and PGD attacks, adversarial training, and robust training on digits.

Inputs are images with pixel values in [0, 1]; `model` is an nn.Module that
maps x (N, ...) to class scores (N, C). The attacks change the input only:
they take the gradient with respect to x with torch.autograd.grad, which
leaves the model's parameters and their .grad as they were.
"""
import torch
import torch.nn.functional as F
from torch import nn


def _input_gradient(model, x, y):
    """d CE(model(x), y) / d x, without touching the model's .grad."""
    x = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm_attack(model, x, y, eps):
    """One step of size eps along the sign of the input gradient, clamped to [0, 1]."""
    x_adv = x + eps * _input_gradient(model, x, y).sign()
    return x_adv.clamp(0, 1).detach()


def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    """`steps` FGSM-like steps of size alpha, each projected back onto the eps-ball around x and [0, 1]."""
    x_adv = x.detach().clone()
    if random_start:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = (x_adv + eps * (2 * u - 1)).clamp(0, 1)
    for _ in range(steps):
        x_adv = x_adv + alpha * _input_gradient(model, x_adv, y).sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps)   # project onto the eps-ball
        x_adv = x_adv.clamp(0, 1)                                # and onto the valid pixel range
    return x_adv.detach()


def adversarial_training_step(model, optimizer, x, y, eps, alpha, steps):
    """One optimiser step on CE(clean) + CE(PGD adversarial); returns the loss as a float."""
    x_adv = pgd_attack(model, x, y, eps, alpha, steps)
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(x_adv), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_digits(X, y, adversarial=False, epochs=15, lr=0.01, batch_size=64,
                 eps=0.1, alpha=0.04, steps=3, seed=0):
    """Train a 64-64-10 ReLU network on digits (X (N, 64) in [0, 1], y (N,)); returns the model.

    With adversarial=True each mini-batch step is an adversarial_training_step.
    """
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(X.shape[1], 64), nn.ReLU(), nn.Linear(64, 10)).to(X.device, X.dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator(device="cpu").manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(X.shape[0], generator=order).to(X.device)
        for start in range(0, X.shape[0], batch_size):
            idx = perm[start:start + batch_size]
            xb, yb = X[idx], y[idx]
            if adversarial:
                adversarial_training_step(model, optimizer, xb, yb, eps, alpha, steps)
            else:
                optimizer.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                optimizer.step()
    return model


def input_saliency(model, x, target):
    """d (sum over the batch of the score of class target[n]) / d x: the backpropagated saliency, signed.

    Each example's score depends only on its own input, so row n is d score[n, target[n]] / d x[n].
    """
    x = x.detach().clone().requires_grad_(True)
    scores = model(x)                                                  # (N, C)
    picked = scores.gather(1, target.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(picked, x)
    return grad                                                        # x's shape
