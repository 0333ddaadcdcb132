"""Unit 3 as students write it: penalties, dropout, batch norm, early stopping, FGSM and PGD."""
from real_code import Variant


def _wrong(exercise, title, source, hint):
    return Variant("unit3", exercise, title, source, hint)


def _right(exercise, title, source):
    return Variant("unit3", exercise, title, source)


OWN_MASK = "draw one random number per value"

# the gradient of the loss with respect to the input, with cross-entropy written out
INPUT_GRAD = '''
def ce_loss(logits, y):
    return (logits.logsumexp(dim=1) - logits[torch.arange(len(y)), y]).mean()

def grad_wrt_input(model, x, y):
    x = x.clone().detach().requires_grad_(True)
    return torch.autograd.grad(ce_loss(model(x), y), x)[0]
'''
RANDOM_START = '''
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x_adv = (x_adv + eps * (2 * noise - 1)).clamp(0, 1)
'''

WRONG = [
    # penalties --------------------------------------------------------------------
    _wrong("l1_penalty", "no abs, loop", '''
def l1_penalty(params, lam):
    total = 0
    for p in params:
        total += p.sum()
    return lam * total
''', "absolute values"),
    _wrong("l2_penalty", "one half", '''
def l2_penalty(params, lam):
    return lam / 2 * sum(torch.sum(p ** 2) for p in params)
''', "without a factor 1/2"),
    _wrong("l2_penalty", "norm, not squared", '''
def l2_penalty(params, lam):
    flat = torch.cat([p.flatten() for p in params])
    return lam * torch.linalg.norm(flat)
''', "no square root"),
    # dropout_forward ----------------------------------------------------------------
    _wrong("dropout_forward", "one mask per feature", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    mask = (torch.rand(x.shape[-1], generator=generator, dtype=x.dtype) >= p).to(x.dtype)
    return x * mask / (1 - p)
''', OWN_MASK),
    _wrong("dropout_forward", "one mask per example", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape[0], 1, generator=generator, dtype=x.dtype) > p
    return torch.where(keep, x / (1 - p), torch.zeros_like(x))
''', OWN_MASK),
    _wrong("dropout_forward", "scaled twice", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    mask = (torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p) / (1 - p)
    return x * mask / (1 - p)
''', "you divided by (1 - p) twice"),
    _wrong("dropout_forward", "not scaled, bernoulli", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train:
        return x
    keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)
    return x * keep
''', "scales the kept values by 1 / (1 - p)"),
    _wrong("dropout_forward", "keeps with probability p", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return x * 0
    u = torch.rand(x.size(), generator=generator, dtype=x.dtype, device=x.device)
    return x * (u < p) / (1 - p)
''', "probability of dropping a value"),
    _wrong("dropout_forward", "ignores train", '''
def dropout_forward(x, p, train=True, generator=None):
    if p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    mask = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * mask.to(x.dtype) / (1 - p)
''', "in eval mode (train=False) dropout does nothing"),
    _wrong("dropout_forward", "global random numbers", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    mask = (torch.rand_like(x) > p).float().to(x.dtype)
    return mask * x / (1.0 - p)
''', "generator=generator"),
    # batchnorm_forward ----------------------------------------------------------------
    _wrong("batchnorm_forward", "unbiased variance to normalise", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if train:
        mu = x.mean(0)
        var = x.var(0)
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
        running_mean, running_var = running_mean.clone(), running_var.clone()
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta, running_mean, running_var
''', "biased batch variance"),
    _wrong("batchnorm_forward", "batch statistics in eval mode", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    N = x.shape[0]
    mu = x.mean(dim=0)
    var = ((x - mu) ** 2).mean(dim=0)
    out = gamma * (x - mu) / (var + eps).sqrt() + beta
    if not train:
        return out, running_mean.clone(), running_var.clone()
    new_mean = momentum * mu + (1 - momentum) * running_mean
    new_var = momentum * var * N / (N - 1) + (1 - momentum) * running_var
    return out, new_mean, new_var
''', "normalise with the running mean and variance"),
    _wrong("batchnorm_forward", "eps outside the root", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if train:
        n = x.shape[0]
        mean = x.mean(0)
        var = x.var(0, unbiased=False)
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * x.var(0, unbiased=True)
    else:
        mean, var, new_mean, new_var = running_mean, running_var, running_mean, running_var
    x_hat = (x - mean) / (torch.sqrt(var) + eps)
    return gamma * x_hat + beta, new_mean, new_var
''', "eps goes inside the square root"),
    # early_stopping -------------------------------------------------------------------
    _wrong("early_stopping", "epochs from 1", '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best - min_delta:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad == patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''', "count epochs from 0"),
    _wrong("early_stopping", "ties improve, while loop", '''
def early_stopping(val_losses, patience, min_delta=0.0):
    i, best, best_i, wait = 0, float("inf"), 0, 0
    while i < len(val_losses):
        if val_losses[i] <= best - min_delta:
            best, best_i, wait = val_losses[i], i, 0
        else:
            wait += 1
            if wait >= patience:
                break
        i += 1
    return min(i, len(val_losses) - 1), best_i
''', "an equal loss does not"),
    # attacks ----------------------------------------------------------------------------
    _wrong("fgsm_attack", "descends", INPUT_GRAD + '''
def fgsm_attack(model, x, y, eps):
    return torch.clamp(x - eps * torch.sign(grad_wrt_input(model, x, y)), 0, 1)
''', "an attack increases the loss"),
    _wrong("fgsm_attack", "no clamp", INPUT_GRAD + '''
def fgsm_attack(model, x, y, eps):
    g = grad_wrt_input(model, x, y)
    return (x + eps * g.sign()).detach()
''', "clamp the result"),
    _wrong("pgd_attack", "gradient at the unprojected point", INPUT_GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_adv = x.clone()''' + RANDOM_START + '''
    x_proj = x_adv
    for _ in range(steps):
        x_adv = x_adv + alpha * grad_wrt_input(model, x_adv, y).sign()
        x_proj = torch.clamp(torch.clamp(x_adv, x - eps, x + eps), 0, 1)
    return x_proj
''', "compute the next gradient there"),
    _wrong("pgd_attack", "gradient at the unprojected point, delta", INPUT_GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    delta = torch.zeros_like(x)
    if random_start:
        delta = eps * (2 * torch.rand(x.shape, generator=generator, dtype=x.dtype) - 1)
        delta = (x + delta).clamp(0, 1) - x
    for _ in range(steps):
        delta = delta + alpha * grad_wrt_input(model, x + delta, y).sign()
    return (x + delta.clamp(-eps, eps)).clamp(0, 1)
''', "compute the next gradient there"),
    _wrong("pgd_attack", "no projection", INPUT_GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_adv = x.clone()''' + RANDOM_START + '''
    for _ in range(steps):
        x_adv = (x_adv + alpha * grad_wrt_input(model, x_adv, y).sign()).clamp(0, 1)
    return x_adv
''', "project back onto the eps-ball"),
    _wrong("pgd_attack", "steps of size eps", INPUT_GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_adv = x.clone()''' + RANDOM_START + '''
    for _ in range(steps):
        x_adv = x_adv + eps * grad_wrt_input(model, x_adv, y).sign()
        x_adv = torch.max(torch.min(x_adv, x + eps), x - eps).clamp(0, 1)
    return x_adv
''', "each step has size alpha"),
    _wrong("pgd_attack", "random_start ignored", INPUT_GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    x_adv = x.clone()
    for _ in range(steps):
        x_adv = x_adv + alpha * grad_wrt_input(model, x_adv, y).sign()
        x_adv = torch.clamp(x_adv, x - eps, x + eps).clamp(0, 1)
    return x_adv
''', "random_start=True"),
    # two bugs at once, and bugs the catalogue does not name ---------------------------
    _wrong("batchnorm_forward", "unbiased variance and momentum swapped", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if not train:
        return (gamma * (x - running_mean) / torch.sqrt(running_var + eps) + beta,
                running_mean.clone(), running_var.clone())
    mean, var = x.mean(0), x.var(0)
    out = gamma * (x - mean) / torch.sqrt(var + eps) + beta
    return out, momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * var
''', ("biased batch variance", "momentum weighs the new batch statistic")),
    _wrong("dropout_forward", "one mask per feature, not scaled", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train:
        return x
    mask = torch.rand(x.shape[1:], generator=generator, dtype=x.dtype) >= p
    return x * mask
''', OWN_MASK),
    _wrong("early_stopping", "epochs from 1 and ties improve", '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best, best_epoch, wait = val_losses[0], 1, 0
    for epoch in range(2, len(val_losses) + 1):
        if val_losses[epoch - 1] <= best - min_delta:
            best, best_epoch, wait = val_losses[epoch - 1], epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''', "count epochs from 0"),   # where no loss ties, only the first bug shows
    _wrong("l2_penalty", "squares the sum", '''
def l2_penalty(params, lam):
    return lam * sum(p.sum() for p in params) ** 2
''', None),
]

CORRECT = [
    _right("l1_penalty", "torch.cat", '''
def l1_penalty(params, lam):
    return lam * torch.cat([p.reshape(-1) for p in params]).abs().sum()
'''),
    _right("dropout_forward", "bernoulli", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)
    return x * keep / (1 - p)
'''),
    _right("batchnorm_forward", "variance by hand", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if not train:
        return (gamma * (x - running_mean) / torch.sqrt(running_var + eps) + beta,
                running_mean.clone(), running_var.clone())
    n = x.shape[0]
    mean = x.sum(dim=0) / n
    centred = x - mean
    var = (centred * centred).sum(dim=0) / n
    out = gamma * centred / torch.sqrt(var + eps) + beta
    new_mean = running_mean + momentum * (mean - running_mean)
    new_var = running_var + momentum * (var * n / (n - 1) - running_var)
    return out, new_mean, new_var
'''),
    _right("early_stopping", "while loop", '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best, best_epoch, epoch, since = None, 0, 0, 0
    while epoch < len(val_losses):
        loss = val_losses[epoch]
        if best is None or best - loss > min_delta:
            best, best_epoch, since = loss, epoch, 0
        else:
            since += 1
            if since == patience:
                return epoch, best_epoch
        epoch += 1
    return len(val_losses) - 1, best_epoch
'''),
    _right("fgsm_attack", "cross-entropy written out", INPUT_GRAD + '''
def fgsm_attack(model, x, y, eps):
    return (x + eps * grad_wrt_input(model, x, y).sign()).clamp(0.0, 1.0).detach()
'''),
    _right("pgd_attack", "projected delta", INPUT_GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    delta = torch.zeros_like(x)
    if random_start:
        delta = eps * (2 * torch.rand(x.shape, generator=generator, dtype=x.dtype) - 1)
        delta = (x + delta).clamp(0, 1) - x
    for _ in range(steps):
        delta = delta + alpha * grad_wrt_input(model, x + delta, y).sign()
        delta = delta.clamp(-eps, eps)
        delta = (x + delta).clamp(0, 1) - x
    return x + delta
'''),
]

# The exercises added with issue 12 ---------------------------------------------------------------
WRONG += [
    _wrong("elastic_net_penalty", "norm for the L2 part", '''
def elastic_net_penalty(params, l1, l2):
    l1_part = sum(p.abs().sum() for p in params)
    l2_part = torch.linalg.norm(torch.cat([p.flatten() for p in params]))
    return l1 * l1_part + l2 * l2_part
''', "no square root"),
    _wrong("elastic_net_penalty", "means", '''
def elastic_net_penalty(params, l1, l2):
    return sum(l1 * torch.mean(torch.abs(p)) + l2 * torch.mean(p * p) for p in params)
''', "do not average"),
    _wrong("decay_parameter_groups", "biases by name only", '''
def decay_parameter_groups(model):
    decay = [p for n, p in model.named_parameters() if not n.endswith(".bias")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias")]
    return decay, no_decay
''', "normalisation layers"),
    _wrong("decay_parameter_groups", "vectors are not decayed", '''
def decay_parameter_groups(model):
    groups = ([], [])
    for p in model.parameters():
        groups[len(p.shape) == 1].append(p)
    return groups
''', "not by its shape"),
    _wrong("k_fold_indices", "chunk", '''
def k_fold_indices(n, k, generator):
    idx = torch.randperm(n, generator=generator)
    return [fold for fold in torch.chunk(idx, k)]
''', "torch.chunk"),
    _wrong("k_fold_indices", "remainder dropped", '''
def k_fold_indices(n, k, generator):
    idx = torch.randperm(n, generator=generator)
    m = n // k
    return [idx[m * i: m * (i + 1)] for i in range(k)]
''', "left over"),
    _wrong("augment_batch", "upside-down flip", '''
import torch.nn.functional as F

def augment_batch(x, generator, flip_p=0.5, pad=4):
    n, c, h, w = x.shape
    out = []
    big = F.pad(x, [pad] * 4)
    for i in range(n):
        img = big[i]
        if torch.rand((), generator=generator) < flip_p:
            img = torch.flip(img, dims=[1])
        top, left = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
        out.append(img[:, top:top + h, left:left + w])
    return torch.stack(out)
''', "flip the last dimension"),
    _wrong("augment_batch", "randint one short", '''
import torch.nn.functional as F

def augment_batch(x, generator, flip_p=0.5, pad=4):
    n, c, h, w = x.shape
    flips = torch.rand(n, generator=generator) < flip_p
    x = torch.where(flips.view(n, 1, 1, 1), x.flip(3), x)
    big = F.pad(x, [pad] * 4)
    ys = torch.randint(0, 2 * pad, (n,), generator=generator)
    xs = torch.randint(0, 2 * pad, (n,), generator=generator)
    return torch.stack([big[i, :, ys[i]:ys[i] + h, xs[i]:xs[i] + w] for i in range(n)])
''', "excludes its upper bound"),
    _wrong("augment_batch", "keeps with probability flip_p", '''
import torch.nn.functional as F

def augment_batch(x, generator, flip_p=0.5, pad=4):
    n, c, h, w = x.shape
    keep = torch.rand(n, generator=generator) < flip_p
    x = torch.where(keep.view(n, 1, 1, 1), x, x.flip(3))
    big = F.pad(x, [pad] * 4)
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    return torch.stack([big[i, :, a:a + h, b:b + w] for i, (a, b) in enumerate(offs.tolist())])
''', "one coin per image"),
    _wrong("input_saliency", "gradient times input", '''
def input_saliency(model, x, target):
    x = x.clone().requires_grad_()
    out = model(x)
    score = out.gather(1, target[:, None]).sum()
    (g,) = torch.autograd.grad(score, x)
    return g * x.detach()
''', "not gradient times input"),
    _wrong("input_saliency", "all classes", '''
def input_saliency(model, x, target):
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(model(x).sum(), x)[0]
''', "not the sum of all scores"),
]

CORRECT += [
    _right("elastic_net_penalty", "from the two penalties", '''
def elastic_net_penalty(params, l1, l2):
    flat = torch.cat([p.reshape(-1) for p in params])
    return l1 * flat.abs().sum() + l2 * flat.dot(flat)
'''),
    _right("decay_parameter_groups", "names of the norm modules", '''
def decay_parameter_groups(model):
    norm_names = {name for name, m in model.named_modules()
                  if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm))}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        owner = name.rsplit(".", 1)[0]
        if owner in norm_names or name.endswith("bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    return decay, no_decay
'''),
    _right("k_fold_indices", "numpy-style sizes", '''
def k_fold_indices(n, k, generator):
    order = torch.randperm(n, generator=generator)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    return list(order.split(sizes))
'''),
    _right("augment_batch", "one image at a time", '''
def augment_batch(x, generator, flip_p=0.5, pad=4):
    n, c, h, w = x.shape
    result = torch.zeros_like(x)
    for i in range(n):
        img = x[i]
        if torch.rand(1, generator=generator, device=x.device).item() < flip_p:
            img = img.flip(-1)
        canvas = torch.zeros(c, h + 2 * pad, w + 2 * pad, dtype=x.dtype, device=x.device)
        canvas[:, pad:pad + h, pad:pad + w] = img
        dy = int(torch.randint(2 * pad + 1, (1,), generator=generator, device=x.device))
        dx = int(torch.randint(2 * pad + 1, (1,), generator=generator, device=x.device))
        result[i] = canvas[:, dy:dy + h, dx:dx + w]
    return result
'''),
    _right("input_saliency", "backward on a leaf copy", '''
def input_saliency(model, x, target):
    leaf = x.detach().clone()
    leaf.requires_grad = True
    scores = model(leaf)
    picked = torch.stack([scores[i, t] for i, t in enumerate(target.tolist())])
    grad, = torch.autograd.grad(picked.sum(), [leaf])
    return grad
'''),
]
