"""Unit 3 reference: weight penalties, dropout, batch normalisation and early stopping."""
import torch


def l1_penalty(params, lam):
    """lam * sum of |w| over every entry of every tensor in params."""
    return lam * sum(p.abs().sum() for p in params)


def l2_penalty(params, lam):
    """lam * sum of w ** 2 over every entry of every tensor in params (no square root, no 1/2)."""
    return lam * sum((p ** 2).sum() for p in params)


def dropout_forward(x, p, train=True, generator=None):
    """Inverted dropout: zero each entry with probability p and scale the rest by 1 / (1 - p)."""
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    keep = (u >= p).to(x.dtype)                    # 1 with probability 1 - p
    return x * keep / (1 - p)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    """Batch normalisation of x (N, D) per feature, as torch.nn.functional.batch_norm computes it.

    Training: normalise with the batch mean and the biased batch variance, and
    move the running estimates towards the batch's (the running variance uses
    the unbiased variance). Evaluation: normalise with the running estimates.
    Returns (out, new_running_mean, new_running_var).
    """
    if train:
        N = x.shape[0]
        mean = x.mean(dim=0)                                   # (D,)
        var = ((x - mean) ** 2).mean(dim=0)                    # (D,) biased: divides by N
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * var * N / (N - 1)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.clone(), running_var.clone()
    x_hat = (x - mean) / torch.sqrt(var + eps)                 # (N, D)
    return gamma * x_hat + beta, new_mean, new_var


def early_stopping(val_losses, patience, min_delta=0.0):
    """(stop_epoch, best_epoch), epochs counted from 0.

    An epoch improves when its loss is below the best so far by more than
    min_delta. Training stops at the first epoch that is the `patience`-th in a
    row without an improvement; when that never happens, stop_epoch is the last
    epoch.
    """
    best_loss, best_epoch, waited = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best_loss - min_delta:
            best_loss, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return epoch, best_epoch
    return len(val_losses) - 1, best_epoch


def elastic_net_penalty(params, l1, l2):
    """l1 * sum of |w| plus l2 * sum of w ** 2 over every entry of every tensor in params."""
    return sum(l1 * p.abs().sum() + l2 * (p ** 2).sum() for p in params)


# Layers whose parameters only shift and scale the features: weight decay would pull their scale to 0.
NORM_LAYERS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.LayerNorm,
               torch.nn.GroupNorm, torch.nn.InstanceNorm1d, torch.nn.InstanceNorm2d, torch.nn.InstanceNorm3d)


def decay_parameter_groups(model):
    """(decay, no_decay): biases and the parameters of normalisation layers go to no_decay, the rest to decay."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if isinstance(module, NORM_LAYERS) or name == "bias":
                no_decay.append(param)
            else:
                decay.append(param)
    return decay, no_decay
