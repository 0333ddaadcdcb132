"""Unit 2 reference: optimiser steps, a learning-rate schedule and gradient clipping.

Every step returns new tensors (the parameters and the optimiser's state) and
leaves its inputs as they were; a training loop feeds them back in.
"""
import torch


def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    """Velocity as an exponential average of gradients, then a step along it."""
    v = beta * v + (1 - beta) * dw
    w = w - lr * v
    return w, v


def adagrad_step(w, dw, cache, lr, eps=1e-8):
    """Each weight's step is divided by the root of the sum of its squared gradients so far."""
    cache = cache + dw ** 2
    w = w - lr * dw / torch.sqrt(cache + eps)
    return w, cache


def rmsprop_step(w, dw, cache, lr, decay=0.9, eps=1e-8):
    """Like AdaGrad, with an exponential average of squared gradients instead of a sum."""
    cache = decay * cache + (1 - decay) * dw ** 2
    w = w - lr * dw / (torch.sqrt(cache) + eps)
    return w, cache


def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Momentum (m) and RMSProp (v) together, each corrected for starting at zero; t counts from 1."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    w = w - lr * m_hat / (torch.sqrt(v_hat) + eps)
    return w, m, v


def lr_time_decay(lr0, decay_rate, epoch):
    """Time-based decay: lr0 / (1 + decay_rate * epoch)."""
    return lr0 / (1 + decay_rate * epoch)


def clip_grad_value(grads, clip):
    """Clamp every gradient entry into [-clip, clip]."""
    return [g.clamp(-clip, clip) for g in grads]


def clip_grad_norm(grads, max_norm):
    """Rescale all gradients together when their joint L2 norm exceeds max_norm.

    Returns (clipped, total_norm); like torch.nn.utils.clip_grad_norm_, the
    scale is max_norm / (total_norm + 1e-6), used only when it is below 1.
    """
    total_norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).to(grads[0].dtype)
    scale = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
    return [g * scale for g in grads], total_norm
