"""Unit 3: references pass, the starter fails, typical wrong code gets its hint, references agree with torch.

The wrong implementations below are written as a student would write them;
they are not taken from solutions/unit3/mistakes.py.
"""
import importlib.util
import math
import shutil
import sys

import pytest
import torch
import torch.nn.functional as F

from grader.spec.loader import load_unit_spec
from helpers import COURSE, ROOT, assert_fails_with, assert_references_pass, assert_starter_fails_every_exercise, check_path, check_source

UNIT = "unit3"
REFERENCES = ("regularization.py", "adversarial.py", "augmentation.py")
HEADER = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"unit3_{name}", ROOT / "solutions" / UNIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REG = _load("regularization")
ADV = _load("adversarial")
load_unit_spec(COURSE, COURSE.unit(UNIT))
DIGITS = sys.modules["_grader_course.unit3.checks"]   # the checks module the grader itself loaded


def _exercise_names():
    return {e.name for e in COURSE.unit(UNIT).exercises}


def test_references_pass_every_check(tmp_path):
    for name in REFERENCES:
        shutil.copy(ROOT / "solutions" / UNIT / name, tmp_path / name)
    assert_references_pass(UNIT, tmp_path)


def test_starter_notebook_fails_every_exercise():
    assert_starter_fails_every_exercise(UNIT)



# Student-style helpers that the wrong attacks below build on
GRAD = '''
def input_grad(model, x, y):
    x = x.clone().detach().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(model(x), y), x)[0]
'''
GOOD_PGD = GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    adv = x.clone()
    if random_start:
        adv = (adv + eps * (2 * torch.rand(x.shape, generator=generator, dtype=x.dtype) - 1)).clamp(0, 1)
    for _ in range(steps):
        adv = adv + alpha * input_grad(model, adv, y).sign()
        adv = torch.clamp(adv, x - eps, x + eps).clamp(0, 1)
    return adv
'''
DROPOUT_EDGES = '''
    if not train or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
'''

CATALOGUE = [
    # (exercise, student source, hint substring or None, message substring)
    ("l1_penalty", "def l1_penalty(params, lam):\n    return lam * sum(p.sum() for p in params)\n", "absolute values", ""),
    ("l1_penalty", "def l1_penalty(params, lam):\n    return lam * params[0].abs().sum()\n", "every tensor", ""),
    ("l2_penalty", "def l2_penalty(params, lam):\n    return lam * torch.sqrt(sum((p * p).sum() for p in params))\n",
     "no square root", ""),
    ("l2_penalty", "def l2_penalty(params, lam):\n    return 0.5 * lam * sum((p * p).sum() for p in params)\n", "1/2", ""),
    ("l2_penalty", "def l2_penalty(params, lam):\n    return lam * sum(p.pow(2).mean() for p in params)\n", "do not average", ""),
    ("dropout_forward", f'''
def dropout_forward(x, p, train=True, generator=None):{DROPOUT_EDGES}
    mask = torch.rand(x.shape[1], generator=generator, dtype=x.dtype, device=x.device) > p
    return x * mask / (1 - p)
''', "one random number per value", "each example gets its own mask: got False"),
    ("dropout_forward", f'''
def dropout_forward(x, p, train=True, generator=None):{DROPOUT_EDGES}
    mask = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) > p
    return x * mask
''', "1 / (1 - p)", ""),
    ("dropout_forward", f'''
def dropout_forward(x, p, train=True, generator=None):{DROPOUT_EDGES}
    keep = torch.bernoulli(torch.full_like(x, p), generator=generator)
    return x * keep / (1 - p)
''', "probability of dropping", ""),
    ("dropout_forward", '''
def dropout_forward(x, p, train=True, generator=None):
    if p == 1:
        return torch.zeros_like(x)
    mask = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
    return x * mask / (1 - p)
''', "eval mode", ""),
    ("dropout_forward", '''
def dropout_forward(x, p, train=True, generator=None):
    if not train:
        return x
    mask = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
    return x * mask / (1 - p)
''', "p == 1", ""),
    ("dropout_forward", f'''
def dropout_forward(x, p, train=True, generator=None):{DROPOUT_EDGES}
    mask = (torch.rand_like(x) >= p).to(x.dtype)
    return x * mask / (1 - p)
''', "generator=generator", ""),
    ("dropout_forward", f'''
def dropout_forward(x, p, train=True, generator=None):{DROPOUT_EDGES}
    return F.dropout(x, p)
''', None, "does not allow"),
    ("batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if train:
        mu, var = x.mean(0), x.var(0)
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta, running_mean, running_var
''', "biased batch variance", ""),
    ("batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    mu, var = x.mean(0), x.var(0, unbiased=False)
    if train:
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * x.var(0)
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta, running_mean, running_var
''', "momentum weighs the new batch", ""),
    ("batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    mu, var = x.mean(0), x.var(0, unbiased=False)
    if train:
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var = (1 - momentum) * running_var + momentum * x.var(0)
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta, running_mean, running_var
''', "eval mode", ""),
    ("batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    if train:
        mu, var = x.mean(0), x.var(0, unbiased=False)
        running_mean.mul_(1 - momentum).add_(momentum * mu)
        running_var.mul_(1 - momentum).add_(momentum * x.var(0))
    else:
        mu, var = running_mean, running_var
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta, running_mean, running_var
''', None, "in place"),
    ("batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    rm, rv = running_mean.clone(), running_var.clone()
    return F.batch_norm(x, rm, rv, gamma, beta, train, momentum, eps), rm, rv
''', None, "does not allow"),
    ("early_stopping", '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = float("inf"), 1, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best - min_delta:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad == patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''', "count epochs from 0", ""),
    ("early_stopping", '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad > patience:
                return epoch, best_epoch
    return len(val_losses) - 1, best_epoch
''', "not one later", ""),
    ("early_stopping", '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch = loss, epoch
        else:
            bad += 1
        if bad >= patience:
            return epoch, best_epoch
    return len(val_losses) - 1, best_epoch
''', "reset the count", ""),
    ("fgsm_attack", GRAD + '''
def fgsm_attack(model, x, y, eps):
    return torch.clamp(x - eps * input_grad(model, x, y).sign(), 0, 1)
''', "add eps * sign", ""),
    ("fgsm_attack", GRAD + '''
def fgsm_attack(model, x, y, eps):
    return x + eps * torch.sign(input_grad(model, x, y))
''', "valid pixel range", "stays within [0, 1]"),
    ("fgsm_attack", '''
def fgsm_attack(model, x, y, eps):
    x = x.clone().requires_grad_(True)
    F.cross_entropy(model(x), y).backward()
    return (x + eps * x.grad.sign()).clamp(0, 1).detach()
''', None, "`.grad` of the model's parameters"),
    ("pgd_attack", GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    step = x.clone()
    if random_start:
        step = (step + eps * (2 * torch.rand(x.shape, generator=generator, dtype=x.dtype) - 1)).clamp(0, 1)
    adv = step
    for _ in range(steps):
        step = step + alpha * input_grad(model, step, y).sign()
        adv = torch.clamp(step, x - eps, x + eps).clamp(0, 1)
    return adv
''', "not at the unprojected point", ""),
    ("pgd_attack", GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    adv = x.clone()
    if random_start:
        adv = (adv + eps * (2 * torch.rand(x.shape, generator=generator, dtype=x.dtype) - 1)).clamp(0, 1)
    for _ in range(steps):
        adv = (adv + alpha * input_grad(model, adv, y).sign()).clamp(0, 1)
    return adv
''', "project back onto the eps-ball", "within eps of x"),
    ("pgd_attack", GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    adv = x.clone()
    for _ in range(steps):
        adv = adv + alpha * input_grad(model, adv, y).sign()
        adv = torch.clamp(adv, x - eps, x + eps).clamp(0, 1)
    return adv
''', "random_start=True", ""),
    ("pgd_attack", GRAD + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    adv = x.clone()
    if random_start:
        adv = (adv + eps * (2 * torch.rand(x.shape, dtype=x.dtype) - 1)).clamp(0, 1)
    for _ in range(steps):
        adv = adv + alpha * input_grad(model, adv, y).sign()
        adv = torch.clamp(adv, x - eps, x + eps).clamp(0, 1)
    return adv
''', "generator=generator", ""),
    ("adversarial_training_step", GOOD_PGD + '''
def adversarial_training_step(model, optimizer, x, y, eps, alpha, steps):
    x_adv = pgd_attack(model, x, y, eps, alpha, steps)
    loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(x_adv), y)
    loss.backward()
    optimizer.step()
    return loss.item()
''', "zero_grad", ""),
    ("adversarial_training_step", GOOD_PGD + '''
def adversarial_training_step(model, optimizer, x, y, eps, alpha, steps):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(pgd_attack(model, x, y, eps, alpha, steps)), y)
    loss.backward()
    optimizer.step()
    return loss.item()
''', "plus CE on the adversarial batch", ""),
    ("adversarial_training_step", GOOD_PGD + '''
def adversarial_training_step(model, optimizer, x, y, eps, alpha, steps):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(pgd_attack(model, x, y, eps, alpha, steps)), y)
    loss.backward()
    optimizer.step()
    return loss
''', None, "loss.item()"),
    ("adversarial_digits", GOOD_PGD + '''
def adversarial_training_step(model, optimizer, x, y, eps, alpha, steps):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(pgd_attack(model, x, y, eps, alpha, steps)), y)
    loss.backward()
    optimizer.step()
    return loss.item()

def train_digits(X, y, adversarial=False, epochs=15, lr=0.01, batch_size=64, eps=0.1, alpha=0.04, steps=3, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for i in range(0, len(X), batch_size):
            opt.zero_grad()
            F.cross_entropy(model(X[i:i + batch_size]), y[i:i + batch_size]).backward()
            opt.step()
    return model
''', "every mini-batch step must be an adversarial_training_step",
     "robust accuracy gain of adversarial=True over adversarial=False at eps=0.15: got '0.000', expected 'at least 0.15'"),
]


@pytest.mark.parametrize("exercise,source,hint,message", CATALOGUE,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CATALOGUE)])
def test_wrong_implementation_fails_with_its_hint(exercise, source, hint, message):
    assert_fails_with(UNIT, exercise, HEADER + source, hint, message)


def test_other_sound_implementations_are_accepted():
    """Bernoulli masks, torch.var_mean, a loop-free early stop and a PGD with clamp on tensors all pass."""
    source = HEADER + GOOD_PGD + '''
def dropout_forward(x, p, train=True, generator=None):
    if not train or p == 0:
        return x
    if p >= 1:
        return torch.zeros_like(x)
    keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)
    return torch.where(keep.bool(), x / (1 - p), torch.zeros_like(x))

def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    n = x.shape[0]
    if train:
        var, mean = torch.var_mean(x, dim=0, unbiased=False)
        rm = torch.lerp(running_mean, mean, momentum)
        rv = torch.lerp(running_var, var * n / (n - 1), momentum)
    else:
        mean, var, rm, rv = running_mean, running_var, running_mean, running_var
    return (x - mean) * torch.rsqrt(var + eps) * gamma + beta, rm, rv

def fgsm_attack(model, x, y, eps):
    return pgd_attack(model, x, y, eps, eps, 1)
'''
    names = ["dropout_forward", "batchnorm_forward", "fgsm_attack", "pgd_attack"]
    result = check_source(UNIT, source, names)
    for ex in result.exercises.values():
        assert ex.passed, (ex.name, [c.message for c in ex.checks if not c.passed])


# The references agree with PyTorch, and the statistical bound is what the comment says ------------
def test_batchnorm_matches_f_batch_norm_in_both_modes():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 4, generator=g, dtype=torch.float64) * 3 + 1
    gamma, beta = torch.rand(4, generator=g, dtype=torch.float64) + 0.5, torch.randn(4, generator=g, dtype=torch.float64)
    rm, rv = torch.randn(4, generator=g, dtype=torch.float64), torch.rand(4, generator=g, dtype=torch.float64) + 0.5
    for train in (True, False):
        trm, trv = rm.clone(), rv.clone()
        expected = F.batch_norm(x, trm, trv, gamma, beta, training=train, momentum=0.2, eps=1e-4)
        out, new_rm, new_rv = REG.batchnorm_forward(x, gamma, beta, rm, rv, train=train, momentum=0.2, eps=1e-4)
        torch.testing.assert_close(out, expected)
        torch.testing.assert_close(new_rm, trm)
        torch.testing.assert_close(new_rv, trv)
    bn = torch.nn.BatchNorm1d(4, dtype=torch.float64)
    out, new_rm, new_rv = REG.batchnorm_forward(x, bn.weight.detach(), bn.bias.detach(), bn.running_mean.clone(),
                                                bn.running_var.clone())
    torch.testing.assert_close(out, bn(x).detach())
    torch.testing.assert_close(new_rm, bn.running_mean)
    torch.testing.assert_close(new_rv, bn.running_var)


def test_penalties_match_torch_norms():
    params = [torch.randn(3, 4), torch.randn(5)]
    flat = torch.cat([p.flatten() for p in params])
    torch.testing.assert_close(REG.l1_penalty(params, 0.3), 0.3 * torch.linalg.vector_norm(flat, 1))
    torch.testing.assert_close(REG.l2_penalty(params, 0.3), 0.3 * torch.linalg.vector_norm(flat, 2) ** 2)


def test_dropout_reference_keeps_the_expected_value_and_its_bound():
    x = torch.ones(200, 500)
    n = x.numel()
    t = math.sqrt(math.log(2 * 3 / 1e-6) / (2 * n))
    assert 0.0088 < t < 0.0090
    for p in (0.1, 0.3, 0.8):
        out = REG.dropout_forward(x, p, generator=torch.Generator().manual_seed(7))
        assert abs(float((out == 0).float().mean()) - p) < t
        assert abs(float(out.mean()) - 1.0) < 5 * t / (1 - p)
    gen = torch.Generator().manual_seed(3)
    assert torch.equal(REG.dropout_forward(x, 0.4, generator=torch.Generator().manual_seed(3)),
                       REG.dropout_forward(x, 0.4, generator=gen))


def test_attacks_stay_in_the_ball_and_leave_the_model_alone():
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.rand(16, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (16,), generator=g)
    for x_adv in (ADV.fgsm_attack(model, x, y, 0.1),
                  ADV.pgd_attack(model, x, y, 0.1, 0.03, 7, random_start=True, generator=g)):
        assert float((x_adv - x).abs().max()) <= 0.1 + 1e-12
        assert 0 <= float(x_adv.min()) and float(x_adv.max()) <= 1
        assert F.cross_entropy(model(x_adv), y) > F.cross_entropy(model(x), y)
    for p, b in zip(model.parameters(), before):
        assert torch.equal(p, b) and torch.equal(p.grad, torch.ones_like(p))
    # FGSM is one PGD step of size eps
    torch.testing.assert_close(ADV.fgsm_attack(model, x, y, 0.1), ADV.pgd_attack(model, x, y, 0.1, 0.1, 1))


def test_forged_observations_from_the_worker_gain_nothing(tmp_path):
    """Dropout and training checks measure raw outputs in the trusted process, not in the student's."""
    (tmp_path / "forge.py").write_text('''
import torch
import grader.drivers as drivers

def dropout_forward(x, p, train=True, generator=None):
    return x

drivers.get("call")
drivers._REGISTRY["dropout_rate"] = lambda ns, inputs, ctx: {"fraction of outputs set to 0": inputs["p"]}
drivers._REGISTRY["dropout_structure"] = lambda ns, inputs, ctx: {
    "dtype": "float32", "some outputs are kept": True,
    "every output is 0 or x times one common scale": True, "scale of the kept outputs": 1 / (1 - inputs["p"])}
''')
    result = check_path(UNIT, tmp_path, ["dropout_forward"])
    checks = {c.name: c for c in result.exercises["dropout_forward"].checks}
    rate = [c for name, c in checks.items() if name.startswith("drop rate")]
    structure = [c for name, c in checks.items() if name.startswith("kept outputs")]
    assert rate and not any(c.passed for c in rate + structure)
    # the trusted side's reading of the source refuses the grader import before any of it runs
    assert rate[0].message.startswith("imports `grader.drivers` (forge.py, line 3)")


def test_a_trained_model_must_be_made_of_standard_layers():
    result = check_source(UNIT, HEADER + """
class Net(torch.nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 10)

def train_digits(X, y, adversarial=False, **kwargs):
    return Net()
""", ["adversarial_digits"]).exercises["adversarial_digits"]
    assert not result.passed
    assert "returned a Net; return an nn.Sequential of standard layers" in result.checks[0].message


# adversarial_digits: robustness measured so that it cannot be masked -------------------------
def _plainly_trained(activation, trick):
    """A student's train_digits that trains normally and, with adversarial=True, applies a masking trick."""
    return f'''
def train_digits(X, y, adversarial=False, epochs=15, lr=0.01, batch_size=64, eps=0.1, alpha=0.04, steps=3, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), {activation}, nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for i in range(0, len(X), batch_size):
            opt.zero_grad()
            F.cross_entropy(model(X[i:i + batch_size]), y[i:i + batch_size]).backward()
            opt.step()
    if adversarial:
{trick}
    return model
'''


SANITY = "under an attack on its own gradients (FGSM on cross-entropy, PGD on the margin) at eps=0.5"
MASKING = {
    # the softmax saturates, so the gradient of cross-entropy is exactly 0 and FGSM moves nothing
    "logits scaled by 1e4": (_plainly_trained("nn.ReLU()", '''        with torch.no_grad():
            model[2].weight *= 1e4
            model[2].bias *= 1e4'''), SANITY),
    # every hidden unit becomes a step: no gradient at all, for any loss
    "hidden Tanh saturated by huge weights": (_plainly_trained("nn.Tanh()", '''        with torch.no_grad():
            model[0].weight *= 1e3
            model[0].bias *= 1e3'''), SANITY),
    # saturated outputs tie, so this one also loses clean accuracy, which is what the message names first
    "final Sigmoid saturated by huge weights": (_plainly_trained("nn.ReLU()", '''        with torch.no_grad():
            model[2].weight *= 1e3
            model[2].bias *= 1e3
        model = nn.Sequential(*model, nn.Sigmoid())'''), "clean test accuracy of the adversarially trained model"),
}


@pytest.mark.parametrize("trick", list(MASKING))
def test_gradient_masking_fails_with_its_hint(trick):
    source, message = MASKING[trick]
    assert_fails_with(UNIT, "adversarial_digits", HEADER + source, "gradient masking", message)


def test_an_adversarially_trained_model_in_another_style_passes():
    """Madry-style training from random starts, a wider network, a DataLoader: robust, so it passes."""
    source = HEADER + '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    delta = torch.zeros_like(x)
    if random_start:
        delta = torch.empty_like(x).uniform_(-eps, eps, generator=generator)
    for _ in range(steps):
        delta.requires_grad_(True)
        grad, = torch.autograd.grad(F.cross_entropy(model((x + delta).clamp(0, 1)), y), delta)
        delta = (delta.detach() + alpha * grad.sign()).clamp(-eps, eps)
    return (x + delta).clamp(0, 1).detach()

def adversarial_training_step(model, optimizer, x, y, eps, alpha, steps):
    x_adv = pgd_attack(model, x, y, eps, alpha, steps, random_start=True)
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y) + F.cross_entropy(model(x_adv), y)
    loss.backward()
    optimizer.step()
    return loss.item()

def train_digits(X, y, adversarial=False, epochs=15, lr=0.01, batch_size=64, eps=0.1, alpha=0.04, steps=3, seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(X.shape[1], 128), nn.ReLU(), nn.Linear(128, 10)).to(X.device, X.dtype)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    data = torch.utils.data.TensorDataset(X, y)
    for epoch in range(epochs):
        for xb, yb in torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True):
            if adversarial:
                adversarial_training_step(net, optimizer, xb, yb, eps, alpha, steps)
            else:
                optimizer.zero_grad()
                F.cross_entropy(net(xb), yb).backward()
                optimizer.step()
    return net
'''
    result = check_source(UNIT, source, ["adversarial_digits"]).exercises["adversarial_digits"]
    assert result.passed, [c.message for c in result.checks]


def _measure_digits(train_digits, seed):
    """The check's measurements of train_digits(seed=seed), made in this process as the grader makes them."""
    import numpy as np

    from grader import drivers
    from grader.drivers import attacks
    from grader.runner import wire

    case = DIGITS.digits_cases(np.random.default_rng(0))[0]   # the held-out check
    X, y = torch.from_numpy(case.inputs["X_train"]), torch.from_numpy(case.inputs["y_train"])
    kwargs = {**case.inputs["kwargs"], "seed": seed}
    raw = {label: wire.decode(wire.encode(drivers.to_plain(attacks.describe_sequential(
        train_digits(X, y, adversarial=adversarial, **kwargs), "train_digits"))))
        for label, adversarial in (("standard", False), ("adversarial", True))}
    return attacks.robust_training_report(raw, case.trusted_inputs(case.inputs), drivers.DriverContext(seed=seed))


def test_the_reference_clears_the_digits_targets_with_a_margin_on_other_seeds():
    """The check passes seed 0; other seeds must pass too, with room to spare (as in the calibration comment)."""
    targets = DIGITS.DIGITS_TARGETS
    for seed in (1, 7):
        report = _measure_digits(ADV.train_digits, seed)
        standard, adversarial = report["standard"], report["adversarial"]
        assert standard["clean"] >= targets["clean"] + 0.03
        assert adversarial["clean"] >= targets["clean_adv"] + 0.03
        assert adversarial["robust"] >= targets["robust"] + 0.05
        assert adversarial["robust"] - standard["robust"] >= targets["gain"] + 0.05
        assert adversarial["own gradients at sanity eps"] <= targets["sanity"] - 0.15


def test_margin_pgd_and_transfer_see_through_scaled_logits():
    """FGSM on cross-entropy is fooled by logits scaled by 1e4; PGD on the margin and the transfer attacks are not."""
    import copy

    from grader.drivers import attacks

    torch.manual_seed(0)
    X, y = torch.rand(64, 64), torch.randint(0, 10, (64,))
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()
    masked = copy.deepcopy(model)
    with torch.no_grad():
        masked[2].weight *= 1e4
        masked[2].bias *= 1e4
    transfer = [attacks.pgd_margin(model, X, y, 0.1, torch.Generator().manual_seed(1))]
    honest = attacks.robustness(model, X, y, 0.1, transfer, torch.Generator().manual_seed(2))
    scaled = attacks.robustness(masked, X, y, 0.1, transfer, torch.Generator().manual_seed(2))
    assert honest["clean"] == scaled["clean"] == 1.0
    assert honest["FGSM on cross-entropy"] < 0.5 and scaled["FGSM on cross-entropy"] == 1.0
    assert scaled["PGD on the margin"] == honest["PGD on the margin"] < 0.5
    assert scaled["robust"] <= honest["robust"] < 0.5
    assert scaled["own gradients at sanity eps"] == 1.0 and honest["own gradients at sanity eps"] == 0.0


def test_the_worker_never_receives_the_test_split():
    """The digits check's test split and transfer images are private: they reach the measurement, never a request."""
    from grader.checking import run_checks
    from grader.notebook.collect import Submission
    from grader.runner.inprocess import InProcessSession
    from grader.runner.wire import Array

    class Recording(InProcessSession):
        def __init__(self, namespace):
            super().__init__(namespace)
            self.requests = []

        def run(self, request, timeout):
            self.requests.append(request)
            return super().run(request, timeout)

    namespace = {"__name__": "__student__"}
    exec(compile((ROOT / "solutions" / UNIT / "adversarial.py").read_text(), "adversarial.py", "exec"), namespace)
    session = Recording(namespace)
    result = run_checks(COURSE, COURSE.unit(UNIT), Submission(), session, only=["adversarial_digits"])
    assert result.exercises["adversarial_digits"].passed
    _, _, X_test, _ = DIGITS._digits()
    secret = {row.tobytes() for row in X_test} | {row.tobytes() for x in DIGITS._digits_transfer() for row in x}

    def arrays(tree):
        if isinstance(tree, Array):
            yield tree.data
        elif isinstance(tree, dict):
            for value in tree.values():
                yield from arrays(value)
        elif isinstance(tree, (list, tuple)):
            for value in tree:
                yield from arrays(value)

    held_out, public = session.requests   # the public variant holds out part of the training split instead
    assert {"X_test", "y_test", "X_transfer"}.isdisjoint(held_out["inputs"])
    assert sum(len(a) for a in arrays(held_out) if a.ndim == 2) == 1400
    sent = [a for request in session.requests for a in arrays(request)]
    assert sent and not any(row.astype("float32").tobytes() in secret for a in sent if a.ndim == 2 for row in a)


def test_a_returned_model_is_rebuilt_with_its_layers_settings():
    """The trusted side measures exactly the student's model: ELU's alpha, GELU's approximation, Flatten's dims."""
    from grader import drivers
    from grader.drivers import attacks
    from grader.runner import wire

    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ELU(alpha=2.0), torch.nn.GELU(approximate="tanh"),
                                torch.nn.LeakyReLU(0.2), torch.nn.Dropout(0.3), torch.nn.Linear(16, 10),
                                torch.nn.Flatten(0)).eval()
    layers = wire.decode(wire.encode(drivers.to_plain(attacks.describe_sequential(model, "train_digits"))))
    rebuilt = attacks.rebuild_sequential(layers, drivers.DriverContext())
    x = torch.randn(5, 64) * 3
    assert torch.equal(rebuilt(x), model(x))


def test_the_digits_read_from_scikit_learns_file_are_load_digits():
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    X_train, y_train, X_test, y_test = DIGITS._digits()
    perm = np.random.default_rng(0).permutation(len(digits.data))
    assert np.array_equal(X_train, (digits.data[perm[:1400]] / 16).astype(np.float32))
    assert np.array_equal(X_test, (digits.data[perm[1400:]] / 16).astype(np.float32))
    assert np.array_equal(y_train, digits.target[perm[:1400]]) and np.array_equal(y_test, digits.target[perm[1400:]])


@pytest.mark.parametrize("model,message", [
    ("nn.Sequential(nn.Linear(64, 5))", "maps images of shape (397, 64) to scores of shape (397, 5); expected (397, 10)"),
    ("nn.Sequential(nn.Linear(32, 10))", "the standard model cannot take images of shape (397, 64)"),
    ("nn.Sequential(nn.Linear(64, 8000), nn.Linear(8000, 10))", "600,010 parameters; at most 500,000 are measured"),
])
def test_a_returned_model_that_cannot_be_measured_says_why(model, message):
    source = HEADER + f"def train_digits(X, y, adversarial=False, **kwargs):\n    return {model}\n"
    result = check_source(UNIT, source, ["adversarial_digits"]).exercises["adversarial_digits"]
    assert not result.passed and message in result.checks[0].message, result.checks[0].message


# The exercises added with issue 12 ----------------------------------------------------------
AUG_HEAD = '''
def augment_batch(x, generator, flip_p=0.5, pad=4):
    N, C, H, W = x.shape
'''
AUG_CROP = '''
    padded = F.pad(x, (pad, pad, pad, pad))
    out = torch.empty_like(x)
    for i in range(N):
        dy, dx = torch.randint(0, 2 * pad + 1, (2,), generator=generator, device=x.device).tolist()
        out[i] = padded[i, :, dy:dy + H, dx:dx + W]
    return out
'''
FOLD_HEAD = "def k_fold_indices(n, k, generator):\n"
NORMS = "(nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)"
SALIENCY_HEAD = '''
def input_saliency(model, x, target):
    x = x.clone().requires_grad_(True)
    scores = model(x)
'''

NEW_CATALOGUE = [
    ("elastic_net_penalty", '''
def elastic_net_penalty(params, l1, l2):
    return sum(l1 * p.abs().sum() + 0.5 * l2 * (p ** 2).sum() for p in params)
''', "no factor 1/2", ""),
    ("elastic_net_penalty", '''
def elastic_net_penalty(params, l1, l2):
    flat = torch.cat([p.reshape(-1) for p in params])
    return l2 * flat.abs().sum() + l1 * (flat * flat).sum()
''', "you swapped them", ""),
    ("decay_parameter_groups", '''
def decay_parameter_groups(model):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if "bias" in name else decay).append(p)
    return decay, no_decay
''', "normalisation layers", ""),
    ("decay_parameter_groups", '''
def decay_parameter_groups(model):
    params = list(model.parameters())
    return [p for p in params if p.dim() >= 2], [p for p in params if p.dim() < 2]
''', "not by its shape", ""),
    ("decay_parameter_groups", f'''
def decay_parameter_groups(model):
    decay, no_decay = [], []
    for layer in model.children():
        for name, p in layer.named_parameters(recurse=False):
            (no_decay if name == "bias" or isinstance(layer, {NORMS}) else decay).append(p)
    return decay, no_decay
''', "nested ones too", ""),
    ("k_fold_indices", FOLD_HEAD + "    return list(torch.randperm(n, generator=generator).chunk(k))\n",
     "torch.chunk", ""),
    ("k_fold_indices", FOLD_HEAD + '''    perm = torch.randperm(n, generator=generator)
    size = n // k
    return [perm[i * size:(i + 1) * size] for i in range(k)]
''', "left over", ""),
    ("k_fold_indices", FOLD_HEAD + "    return list(torch.tensor_split(torch.arange(n), k))\n", "shuffle", ""),
    ("k_fold_indices", FOLD_HEAD + "    return list(torch.tensor_split(torch.randperm(n), k))\n",
     "draw the permutation from `generator`", ""),
    ("k_fold_indices", FOLD_HEAD + '''    import numpy as np
    return np.array_split(np.random.permutation(n), k)
''', None, "expected a torch.Tensor"),
    ("augment_batch", AUG_HEAD + '''
    flip = torch.rand(N, generator=generator, device=x.device) < flip_p
    x = torch.where(flip[:, None, None, None], x.flip(2), x)
''' + AUG_CROP, "flip the last dimension", ""),
    ("augment_batch", AUG_HEAD + '''
    flip = torch.rand(N, generator=generator, device=x.device) > flip_p
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
''' + AUG_CROP, "one coin per image", "fraction of images flipped"),
    ("augment_batch", AUG_HEAD + '''
    if torch.rand(1, generator=generator, device=x.device).item() < flip_p:
        x = x.flip(-1)
''' + AUG_CROP, "one coin per image", ""),
    ("augment_batch", AUG_HEAD + '''
    flip = torch.rand(N, generator=generator, device=x.device) < flip_p
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
''' + AUG_CROP.replace("2 * pad + 1", "2 * pad"), "excludes its upper bound", ""),
    ("augment_batch", AUG_HEAD + '''
    flip = torch.rand(N, device=x.device) < flip_p
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
''' + AUG_CROP.replace("generator=generator, ", ""), "draw every random number from `generator`", ""),
    ("augment_batch", AUG_HEAD + '''
    for i in range(N):
        if torch.rand(1, generator=generator, device=x.device).item() < flip_p:
            x[i] = x[i].flip(-1)
''' + AUG_CROP, "do not change x in place", ""),
    ("augment_batch", AUG_HEAD + '''
    flip = torch.rand(N, generator=generator, device=x.device) < flip_p
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
''' + AUG_CROP.replace("(pad, pad, pad, pad))", "(pad, pad, pad, pad), mode='replicate')"), "pad each image with zeros", ""),
    ("input_saliency", SALIENCY_HEAD + '''    picked = scores[torch.arange(len(target)), target]
    return torch.autograd.grad(picked.sum(), x)[0].abs()
''', "signed gradient", ""),
    ("input_saliency", SALIENCY_HEAD + '''    probs = torch.softmax(scores, dim=1)
    return torch.autograd.grad(probs[torch.arange(len(target)), target].sum(), x)[0]
''', "softmax probability", ""),
    ("input_saliency", SALIENCY_HEAD + '''    best = scores.argmax(dim=1)
    return torch.autograd.grad(scores[torch.arange(len(x)), best].sum(), x)[0]
''', "not the predicted one", ""),
    ("input_saliency", SALIENCY_HEAD + '''    F.cross_entropy(scores, target).backward()
    return x.grad
''', None, "changed the `.grad`"),
]


@pytest.mark.parametrize("exercise,source,hint,message", NEW_CATALOGUE,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(NEW_CATALOGUE)])
def test_new_exercise_wrong_implementation_fails_with_its_hint(exercise, source, hint, message):
    assert_fails_with(UNIT, exercise, HEADER + source, hint, message)


def test_catalogue_covers_every_exercise():
    assert {c[0] for c in CATALOGUE + NEW_CATALOGUE} == _exercise_names()


def test_new_exercises_accept_other_sound_implementations():
    """np-style fold sizes, a flip by indexing, saliency by backward() on a copy, groups by class name."""
    source = HEADER + '''
def k_fold_indices(n, k, generator):
    perm = torch.randperm(n, generator=generator)
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [perm[a:b] for a, b in zip(bounds, bounds[1:])]

def augment_batch(x, generator, flip_p=0.5, pad=4):
    N, C, H, W = x.shape
    flip = torch.rand(N, generator=generator, device=x.device) < flip_p
    out = x.clone()
    out[flip] = x[flip][..., torch.arange(W - 1, -1, -1, device=x.device)]
    canvas = x.new_zeros(N, C, H + 2 * pad, W + 2 * pad)
    canvas[:, :, pad:pad + H, pad:pad + W] = out
    offs = torch.randint(0, 2 * pad + 1, (N, 2), generator=generator, device=x.device)
    return torch.stack([canvas[i, :, a:a + H, b:b + W] for i, (a, b) in enumerate(offs.tolist())])

def decay_parameter_groups(model):
    decay, no_decay = [], []
    for module in model.modules():
        norm = "Norm" in type(module).__name__
        for name, p in module.named_parameters(recurse=False):
            (no_decay if norm or name.endswith("bias") else decay).append(p)
    return decay, no_decay

def elastic_net_penalty(params, l1, l2):
    total = 0.0
    for p in params:
        total = total + l1 * p.abs().sum() + l2 * p.pow(2).sum()
    return total

def input_saliency(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    scores = model(x)
    one_hot = F.one_hot(target, scores.shape[1]).to(scores.dtype)
    return torch.autograd.grad((scores * one_hot).sum(), x)[0]
'''
    names = ["k_fold_indices", "augment_batch", "decay_parameter_groups", "elastic_net_penalty", "input_saliency"]
    result = check_source(UNIT, source, names)
    failed = {n: [c.message for c in e.checks if not c.passed] for n, e in result.exercises.items() if not e.passed}
    assert not failed


def test_saliency_reference_matches_finite_differences():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    x, target = torch.randn(4, 5, dtype=torch.float64), torch.tensor([0, 2, 1, 2])
    grad = ADV.input_saliency(model, x, target)
    for n in range(4):
        for i in range(5):
            e = torch.zeros_like(x[n])
            e[i] = 1e-6
            diff = (model(x[n] + e)[target[n]] - model(x[n] - e)[target[n]]) / 2e-6
            assert math.isclose(grad[n, i].item(), diff.item(), rel_tol=1e-6, abs_tol=1e-8)


def test_elastic_net_is_the_two_penalties_together():
    params = [torch.randn(3, 4), torch.randn(5)]
    assert torch.allclose(REG.elastic_net_penalty(params, 0.3, 0.7),
                          REG.l1_penalty(params, 0.3) + REG.l2_penalty(params, 0.7))


def test_decay_groups_reference_on_a_nested_model():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                torch.nn.Sequential(torch.nn.Linear(4, 4, bias=False), torch.nn.LayerNorm([2, 2])))
    decay, no_decay = REG.decay_parameter_groups(model)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in decay) == ["0.weight", "2.0.weight"]
    assert sorted(names[id(p)] for p in no_decay) == ["0.bias", "1.bias", "1.weight", "2.1.bias", "2.1.weight"]


def test_k_fold_reference_partitions_with_near_equal_sizes():
    aug = _load("augmentation")
    for n, k in ((10, 4), (7, 7), (23, 5), (5, 1)):
        folds = aug.k_fold_indices(n, k, torch.Generator().manual_seed(n))
        assert len(folds) == k and max(map(len, folds)) - min(map(len, folds)) <= 1
        assert sorted(torch.cat(folds).tolist()) == list(range(n))


def _augment_measure(x, out, pad, after=None, rate=True):
    from grader.drivers import properties
    from grader.runner.wire import Array

    def array(t):
        return Array(t.numpy(), str(t.dtype).removeprefix("torch."))

    raw = {"out": array(out), "x after the call": array(x if after is None else after)}
    return properties.measure_augment(raw, {"x": array(x), "pad": pad, "rate": rate}, None)


def test_augment_measure_accepts_the_reference_and_sees_forgeries():
    """The trusted measurement decides from plain data: another image's crop, a rolled (wrapped) shift,
    a half-flipped image or a changed x are all caught."""
    from grader.drivers import properties as P

    aug = _load("augmentation")
    x = torch.rand(400, 2, 5, 5) + 0.1
    out = aug.augment_batch(x, torch.Generator().manual_seed(3), flip_p=0.3, pad=2)
    good = _augment_measure(x, out, 2)
    assert good[P.AUG_CROP] and good[P.AUG_UPRIGHT] and good[P.AUG_SHIFTS] and good[P.AUG_INPUT]
    assert abs(good[P.AUG_RATE] - 0.3) < 0.1
    swapped = out.clone()
    swapped[[0, 1]] = out[[1, 0]]
    assert not _augment_measure(x, swapped, 2)[P.AUG_CROP]
    assert not _augment_measure(x, torch.roll(x, 1, dims=-1), 2)[P.AUG_CROP]
    half = out.clone()
    half[0, 0] = half[0, 0].flip(-1)
    assert not _augment_measure(x, half, 2)[P.AUG_CROP]
    upside = _augment_measure(x, x.flip(-2), 2)
    assert not upside[P.AUG_UPRIGHT] and not upside[P.AUG_CROP]
    assert not _augment_measure(x, out, 2, after=x * 0.5)[P.AUG_INPUT]


def test_augment_flip_rate_bound_holds_for_the_reference_on_many_seeds():
    from grader.drivers import properties as P

    aug = _load("augmentation")
    tol = DIGITS.rate_tolerance(DIGITS.AUG_RATE_N, cases=len(DIGITS.AUG_RATE_P))
    assert tol < 0.5 / 2   # flip_p and 1 - flip_p are told apart
    x = torch.rand(DIGITS.AUG_RATE_N, 1, 5, 5) + 0.1
    for seed in range(5):
        out = aug.augment_batch(x, torch.Generator().manual_seed(seed), flip_p=0.25, pad=2)
        assert abs(_augment_measure(x, out, 2)[P.AUG_RATE] - 0.25) < tol
