"""Typical wrong implementations for Unit 3, each recognised by the checks with a hint."""
import torch
import torch.nn.functional as F

from .adversarial import _input_gradient, fgsm_attack, pgd_attack, train_digits
from .regularization import batchnorm_forward


# penalties -------------------------------------------------------------------
def l1_no_abs(params, lam):
    return lam * sum(p.sum() for p in params)


def l1_mean(params, lam):
    return lam * sum(p.abs().mean() for p in params)


def l1_first_only(params, lam):
    return lam * params[0].abs().sum()


def l2_norm(params, lam):
    return lam * torch.sqrt(sum((p ** 2).sum() for p in params))


def l2_half(params, lam):
    return lam / 2 * sum((p ** 2).sum() for p in params)


def l2_mean(params, lam):
    return lam * sum((p ** 2).mean() for p in params)


# dropout ---------------------------------------------------------------------
def _keep(x, p, generator):
    return (torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p).to(x.dtype)


def dropout_not_scaled(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    return x * _keep(x, p, generator)


def dropout_scaled_down(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    return x * _keep(x, p, generator) * (1 - p)


def dropout_keeps_with_p(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x * (u < p).to(x.dtype) / (1 - p)


def dropout_ignores_train(x, p, train=True, generator=None):
    if p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * _keep(x, p, generator) / (1 - p)


def dropout_divides_by_zero(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    return x * _keep(x, p, generator) / (1 - p)


def dropout_scaled_twice(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (_keep(x, p, generator) / (1 - p)) / (1 - p)


def dropout_ignores_generator(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * _keep(x, p, None) / (1 - p)


# batchnorm_forward -----------------------------------------------------------
def bn_unbiased_normalise(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if not train:
        return batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum, eps)
    mean, var = x.mean(dim=0), x.var(dim=0, unbiased=True)
    out = gamma * (x - mean) / torch.sqrt(var + eps) + beta
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


def bn_biased_running(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if not train:
        return batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum, eps)
    mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
    out = gamma * (x - mean) / torch.sqrt(var + eps) + beta
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


def bn_momentum_swapped(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    out, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, train, 1 - momentum, eps)
    return out, new_mean, new_var


def bn_batch_stats_in_eval(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    out, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, True, momentum, eps)
    if train:
        return out, new_mean, new_var
    return out, running_mean.clone(), running_var.clone()


def bn_eps_outside(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    out, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum, 0.0)
    mean = x.mean(dim=0) if train else running_mean
    var = x.var(dim=0, unbiased=False) if train else running_var
    return gamma * (x - mean) / (torch.sqrt(var) + eps) + beta, new_mean, new_var


def bn_updates_in_eval(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    out, _, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, train, momentum, eps)
    _, new_mean, new_var = batchnorm_forward(x, gamma, beta, running_mean, running_var, True, momentum, eps)
    return out, new_mean, new_var


# early_stopping --------------------------------------------------------------
def _early(val_losses, patience, min_delta, *, improves, late=0, reset=True, base=0):
    best_loss, best_epoch, waited = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if improves(loss, best_loss, min_delta):
            best_loss, best_epoch = loss, epoch
            if reset:
                waited = 0
        else:
            waited += 1
            if waited >= patience + late:
                return epoch + base, best_epoch + base
    return len(val_losses) - 1 + base, best_epoch + base


def early_one_based(val_losses, patience, min_delta=0.0):
    return _early(val_losses, patience, min_delta, improves=lambda loss, best, d: loss < best - d, base=1)


def early_ties_improve(val_losses, patience, min_delta=0.0):
    return _early(val_losses, patience, min_delta, improves=lambda loss, best, d: loss <= best - d)


def early_ignores_min_delta(val_losses, patience, min_delta=0.0):
    return _early(val_losses, patience, min_delta, improves=lambda loss, best, d: loss < best)


def early_one_late(val_losses, patience, min_delta=0.0):
    return _early(val_losses, patience, min_delta, improves=lambda loss, best, d: loss < best - d, late=1)


def early_no_reset(val_losses, patience, min_delta=0.0):
    return _early(val_losses, patience, min_delta, improves=lambda loss, best, d: loss < best - d, reset=False)


# attacks ---------------------------------------------------------------------
def fgsm_descends(model, x, y, eps):
    return (x - eps * _input_gradient(model, x, y).sign()).clamp(0, 1)


def fgsm_no_clamp(model, x, y, eps):
    return (x + eps * _input_gradient(model, x, y).sign()).detach()


def fgsm_raw_gradient(model, x, y, eps):
    return (x + eps * _input_gradient(model, x, y)).clamp(0, 1)


def pgd_no_projection(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_adv = x.clone()
    if random_start:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = (x_adv + eps * (2 * u - 1)).clamp(0, 1)
    for _ in range(steps):
        x_adv = (x_adv + alpha * _input_gradient(model, x_adv, y).sign()).clamp(0, 1)
    return x_adv


def pgd_grad_unprojected(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_step = x.clone()
    if random_start:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_step = (x_step + eps * (2 * u - 1)).clamp(0, 1)
    x_adv = x_step
    for _ in range(steps):
        x_step = x_step + alpha * _input_gradient(model, x_step, y).sign()   # never projected
        x_adv = torch.min(torch.max(x_step, x - eps), x + eps).clamp(0, 1)
    return x_adv


def pgd_no_clamp(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_adv = x.clone()
    if random_start:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = x_adv + eps * (2 * u - 1)
    for _ in range(steps):
        x_adv = x_adv + alpha * _input_gradient(model, x_adv, y).sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps)
    return x_adv


def pgd_step_eps(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    return pgd_attack(model, x, y, eps, eps, steps, random_start, generator)


def pgd_descends(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_adv = x.clone()
    for _ in range(steps):
        x_adv = x_adv - alpha * _input_gradient(model, x_adv, y).sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    return x_adv


def pgd_no_random_start(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    return pgd_attack(model, x, y, eps, alpha, steps)


def pgd_global_rng(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    return pgd_attack(model, x, y, eps, alpha, steps, random_start, None)


# adversarial_training_step ---------------------------------------------------
def adv_step_no_zero_grad(model, optimizer, x, y, eps, alpha, steps):
    x_adv = pgd_attack(model, x, y, eps, alpha, steps)
    loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(x_adv), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def adv_step_adversarial_only(model, optimizer, x, y, eps, alpha, steps):
    x_adv = pgd_attack(model, x, y, eps, alpha, steps)
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x_adv), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def adv_step_mean(model, optimizer, x, y, eps, alpha, steps):
    x_adv = pgd_attack(model, x, y, eps, alpha, steps)
    optimizer.zero_grad()
    loss = (F.cross_entropy(model(x), y) + F.cross_entropy(model(x_adv), y)) / 2
    loss.backward()
    optimizer.step()
    return loss.item()


def adv_step_fgsm(model, optimizer, x, y, eps, alpha, steps):
    x_adv = fgsm_attack(model, x, y, eps)
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(x_adv), y)
    loss.backward()
    optimizer.step()
    return loss.item()


# adversarial_digits ----------------------------------------------------------
def train_digits_never_adversarial(X, y, adversarial=False, **kwargs):
    return train_digits(X, y, adversarial=False, **kwargs)


# elastic_net_penalty ---------------------------------------------------------------
def elastic_l2_norm(params, l1, l2):
    return l1 * sum(p.abs().sum() for p in params) + l2 * torch.sqrt(sum((p ** 2).sum() for p in params))


def elastic_l2_half(params, l1, l2):
    return sum(l1 * p.abs().sum() + l2 / 2 * (p ** 2).sum() for p in params)


def elastic_swapped(params, l1, l2):
    return sum(l2 * p.abs().sum() + l1 * (p ** 2).sum() for p in params)


def elastic_no_abs(params, l1, l2):
    return sum(l1 * p.sum() + l2 * (p ** 2).sum() for p in params)


def elastic_mean(params, l1, l2):
    return sum(l1 * p.abs().mean() + l2 * (p ** 2).mean() for p in params)


# decay_parameter_groups ---------------------------------------------------------------
def groups_bias_only(model):
    decay = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    return decay, [p for n, p in model.named_parameters() if n.endswith("bias")]


def groups_by_ndim(model):
    return [p for p in model.parameters() if p.ndim > 1], [p for p in model.parameters() if p.ndim <= 1]


def groups_swapped(model):
    from .regularization import decay_parameter_groups

    decay, no_decay = decay_parameter_groups(model)
    return no_decay, decay


def groups_children_only(model):
    from .regularization import NORM_LAYERS

    decay, no_decay = [], []
    for module in model.children():   # the top level only: nested blocks are skipped
        for name, param in module.named_parameters(recurse=False):
            (no_decay if isinstance(module, NORM_LAYERS) or name == "bias" else decay).append(param)
    return decay, no_decay


# input_saliency ------------------------------------------------------------------------
def _saliency_of(model, x, score):
    x = x.detach().clone().requires_grad_(True)
    return torch.autograd.grad(score(model(x)).sum(), x)[0]


def saliency_abs(model, x, target):
    return _saliency_of(model, x, lambda s: s.gather(1, target.view(-1, 1))).abs()


def saliency_softmax(model, x, target):
    return _saliency_of(model, x, lambda s: s.softmax(dim=1).gather(1, target.view(-1, 1)))


def saliency_log_softmax(model, x, target):
    return _saliency_of(model, x, lambda s: s.log_softmax(dim=1).gather(1, target.view(-1, 1)))


def saliency_predicted(model, x, target):
    return _saliency_of(model, x, lambda s: s.gather(1, s.argmax(dim=1, keepdim=True)))


def saliency_all_scores(model, x, target):
    return _saliency_of(model, x, lambda s: s)


def saliency_loss(model, x, target):
    return _input_gradient(model, x, target)


def saliency_times_input(model, x, target):
    return _saliency_of(model, x, lambda s: s.gather(1, target.view(-1, 1))) * x
