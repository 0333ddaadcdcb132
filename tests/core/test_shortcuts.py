"""Forbidden shortcuts are judged in the trusted process, from the student's source.

Every route below passed the old worker-side watch (switching it off, patching
it, aliases the lists did not name, torch.optim internals) or is a close
relative; each must now be caught statically, with the line named. Honest code
in unusual styles must not be.
"""
from __future__ import annotations

import re

import pytest
import torch

from grader.notebook.collect import Cell
from grader.runner.forbid import ForbiddenWatch, targets
from grader.runner.inprocess import InProcessSession
from grader.static import FAMILIES, analyse, families, find_shortcuts, forbids, shortcut_message
from grader.static.families import normalise
from helpers import COURSE, check_path, check_source, write_notebook

SOFTMAX = ("softmax",)
ENTRY = ("softmax",)
REFERENCE = """
def softmax(z, dim=-1):
    e = torch.exp(z - z.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)
"""


def scan(*cells: str | Cell, entry: tuple[str, ...] = ENTRY, forbidden: tuple[str, ...] = SOFTMAX) -> list:
    """Findings for cells given as sources (losses.ipynb, cell 1, 2, ...) or as Cells."""
    program = analyse([c if isinstance(c, Cell) else Cell(c, f"losses.ipynb, cell {i + 1}")
                       for i, c in enumerate(cells)])
    return find_shortcuts(program, entry, forbidden)


def named(findings: list) -> list[tuple[str, str]]:
    return [(f.label, f.where) for f in findings]


# every route to a forbidden function: (cells, entry, forbidden, first finding's label, where)
ROUTES = [
    (["import torch.nn.functional as F\ndef softmax(z, dim=-1):\n    return F.softmax(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.nn.functional.softmax`", "cell 1, line 3"),
    (["from torch.nn import functional as F\n", "def softmax(z, dim=-1):\n    return F.log_softmax(z, dim).exp()\n"],
     ENTRY, SOFTMAX, "`torch.nn.functional.log_softmax`", "cell 2, line 2"),
    (["from torch import softmax as sm\ndef softmax(z, dim=-1):\n    return sm(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 1"),
    (["import torch as t\ndef softmax(z, dim=-1):\n    return t.softmax(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 3"),
    (["import torch.nn.functional as F\nsoftmax = F.softmax\n"], ENTRY, SOFTMAX,
     "`torch.nn.functional.softmax`", "cell 1, line 2"),
    (["import torch\nsm = torch.softmax\n", "x = 1\n", "def softmax(z, dim=-1):\n    return sm(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 2"),
    (["import functools\nimport torch.nn.functional as F\nstable = functools.partial(F.softmax, dim=-1)\n"
      "def softmax(z, dim=-1):\n    return stable(z)\n"], ENTRY, SOFTMAX, "`torch.nn.functional.softmax`",
     "cell 1, line 3"),
    (["import torch\ndef softmax(z, dim=-1):\n    return getattr(torch, 'softmax')(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 3"),
    (["from torch.nn.functional import *\n", "def softmax(z, dim=-1):\n    return log_softmax(z, dim).exp()\n"],
     ENTRY, SOFTMAX, "`torch.nn.functional.log_softmax`", "cell 2, line 2"),
    ([REFERENCE, "from torch.nn.functional import *\n"], ENTRY, SOFTMAX, "`torch.nn.functional.softmax`",
     "cell 2, line 1"),
    (["import torch\ndef softmax(z, dim=-1):\n    return torch._softmax(z, dim, False)\n"],
     ENTRY, SOFTMAX, "`torch._softmax`", "cell 1, line 3"),
    (["import torch\ndef softmax(z, dim=-1):\n    return torch.special.softmax(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.special.softmax`", "cell 1, line 3"),
    (["import torch\ndef softmax(z, dim=-1):\n    return torch.special.log_softmax(z, dim).exp()\n"],
     ENTRY, SOFTMAX, "`torch.special.log_softmax`", "cell 1, line 3"),
    (["import torch\ndef softmax(z, dim=-1):\n    return torch.ops.aten._softmax.default(z, dim, False)\n"],
     ENTRY, SOFTMAX, "`torch.ops.aten._softmax`", "cell 1, line 3"),
    (["import torch\ndef softmax(z, dim=-1):\n    return torch.nn.Softmax(dim)(z)\n"],
     ENTRY, SOFTMAX, "`torch.nn.Softmax`", "cell 1, line 3"),
    (["def helper(t, d):\n    return t.softmax(d)\n", "def softmax(z, dim=-1):\n    return helper(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.Tensor.softmax`", "cell 1, line 2"),
    (["def softmax(z, dim=-1):\n    return type(z).log_softmax(z, dim).exp()\n"],
     ENTRY, SOFTMAX, "`torch.Tensor.log_softmax`", "cell 1, line 2"),
    (["import torch\nT = torch.Tensor\ndef softmax(z, dim=-1):\n    return T.softmax(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.Tensor.softmax`", "cell 1, line 4"),
    (["import scipy.special\nimport torch\ndef softmax(z, dim=-1):\n"
      "    return torch.from_numpy(scipy.special.softmax(z.numpy(), dim))\n"],
     ENTRY, SOFTMAX, "`scipy.special.softmax`", "cell 1, line 4"),
    ([Cell("import torch\ndef stable(z, d):\n    return torch.softmax(z, d)\n", "helpers.py"),
      Cell("import helpers\ndef softmax(z, dim=-1):\n    return helpers.stable(z, dim)\n", "losses.ipynb, cell 1")],
     ENTRY, SOFTMAX, "`torch.softmax`", "helpers.py, line 3"),
    ([Cell("from torch.nn.functional import softmax as _sm\n", "helpers.py"),
      Cell("from helpers import _sm\ndef softmax(z, dim=-1):\n    return _sm(z, dim)\n", "losses.ipynb, cell 1")],
     ENTRY, SOFTMAX, "`torch.nn.functional.softmax`", "helpers.py, line 1"),
    (["import torch\nOPS = []\n", "OPS.append(torch.softmax)\n", "def softmax(z, dim=-1):\n    return OPS[0](z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 2, line 1"),
    (["import torch\nOPS = {}\ndef setup():\n    OPS['f'] = torch.softmax\n", "setup()\n",
      "def softmax(z, dim=-1):\n    return OPS['f'](z, dim)\n"], ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 4"),
    (["import torch\ndef softmax(z, dim=-1, f=torch.softmax):\n    return f(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 2"),
    (["import torch\nclass Ops:\n    f = staticmethod(torch.softmax)\ndef softmax(z, dim=-1):\n    return Ops.f(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 3"),
    (["import torch\ndef softmax(z, dim=-1):\n    global impl\n    impl = torch.softmax\n    return impl(z, dim)\n"],
     ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 4"),
    (["def softmax(z, dim=-1):\n    return z.__class__.__dict__['softmax'](z, dim)\n"],
     ENTRY, SOFTMAX, "the name 'softmax' in a string", "cell 1, line 2"),
    (["def run(op, z):\n    return op\n", "def softmax(z, dim=-1):\n    return run('aten::_softmax', z)\n"],
     ENTRY, SOFTMAX, "the name 'aten::_softmax' in a string", "cell 2, line 2"),
    (["import torch\nOPS = []\ndef register(table, f):\n    table.append(f)\n", "register(OPS, torch.softmax)\n",
      "def softmax(z, dim=-1):\n    return OPS[0](z, dim)\n"], ENTRY, SOFTMAX, "`torch.softmax`", "cell 2, line 1"),
    (["import torch\nclass T(torch.Tensor):\n    def softmax(self, dim):\n        return super().softmax(dim)\n"
      "def softmax(z, dim=-1):\n    return z.as_subclass(T).softmax(dim)\n"], ENTRY, SOFTMAX,
     "`torch.Tensor.softmax`", "cell 1, line 4"),
    # the reported bypasses
    (["import torch\ndef softmax(z, dim=-1):\n    with torch._C.DisableTorchFunction():\n"
      "        return torch.softmax(z, dim)\n"], ENTRY, SOFTMAX, "`torch.softmax`", "cell 1, line 4"),
    (["import torch\ndef affine_backward(dout, x, w, b):\n    x = x.clone().requires_grad_()\n"
      "    torch.autograd.backward(x @ w, dout)\n    return x.grad, None, None\n"],
     ("affine_backward",), ("autograd",), "`torch.autograd.backward`", "cell 1, line 4"),
    (["import torch\ndef adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
      "    w = w.clone()\n    torch.optim.adam.adam([w], [dw], [m], [v], [], [torch.tensor(float(t))], lr=lr,\n"
      "        beta1=beta1, beta2=beta2, eps=eps, weight_decay=0.0, amsgrad=False, maximize=False)\n"
      "    return w, m, v\n"], ("adam_step",), ("optimiser", "foreach"), "`torch.optim.adam.adam`", "cell 1, line 4"),
    (["import torch\ntorch.optim.optimizer._global_optimizer_pre_hooks.clear()\n",
      "def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
      "    p = torch.nn.Parameter(w.clone())\n    p.grad = dw\n    opt = torch.optim.Adam([p], lr=lr)\n"
      "    opt.step()\n    return p.detach(), m, v\n"], ("adam_step",), ("optimiser", "foreach"),
     "`torch.optim.Adam`", "cell 2, line 4"),
    # other families
    (["import torch\ndef logistic_regression_step(w, b, X, y, lr):\n    loss = torch.tensor(1.0, requires_grad=True)\n"
      "    loss.backward()\n    return w, b, loss\n"], ("logistic_regression_step",), ("autograd",),
     "`torch.Tensor.backward`", "cell 1, line 4"),
    (["import torch\ndef relu_backward(dout, x):\n    return torch.func.vjp(torch.relu, x)[1](dout)[0]\n"],
     ("relu_backward",), ("autograd",), "`torch.func.vjp`", "cell 1, line 3"),
    (["from functorch import grad\ndef relu_backward(dout, x):\n    return grad(lambda t: (t.relu() * dout).sum())(x)\n"],
     ("relu_backward",), ("autograd",), "`functorch.grad`", "cell 1, line 1"),
    (["def relu_backward(dout, x):\n    y = x.relu()\n    return y.grad_fn(dout)\n"],
     ("relu_backward",), ("autograd",), "`torch.Tensor.grad_fn`", "cell 1, line 3"),
    (["import torch.nn.functional as F\ndef softmax_cross_entropy(scores, y):\n    return F.nll_loss(scores, y), None\n"],
     ("softmax_cross_entropy",), ("softmax", "autograd", "cross_entropy"), "`torch.nn.functional.nll_loss`",
     "cell 1, line 3"),
    (["import torch\ndef multiclass_hinge_loss(scores, y, margin=1.0):\n"
      "    return torch.nn.MultiMarginLoss(margin=margin)(scores, y), None\n"],
     ("multiclass_hinge_loss",), ("autograd", "margin_loss"), "`torch.nn.MultiMarginLoss`", "cell 1, line 3"),
    (["import torch\ndef affine_forward(x, w, b):\n    return torch.addmm(b, x, w)\n"],
     ("affine_forward",), ("linear",), "`torch.addmm`", "cell 1, line 3"),
    (["def affine_forward(x, w, b):\n    return b.addmm(x, w)\n"], ("affine_forward",), ("linear",),
     "`torch.Tensor.addmm`", "cell 1, line 2"),
    (["import torch\ndef clip_grad_norm(grads, max_norm):\n    total = torch.nn.utils.get_total_norm(grads)\n"
      "    return grads, total\n"], ("clip_grad_norm",), ("clip_grad", "foreach"),
     "`torch.nn.utils.get_total_norm`", "cell 1, line 3"),
    (["import torch\ndef clip_grad_value(grads, clip):\n    grads = [g.clone() for g in grads]\n"
      "    torch._foreach_clamp_max_(grads, clip)\n    return grads\n"], ("clip_grad_value",), ("clip_grad", "foreach"),
     "`torch._foreach_clamp_max_`", "cell 1, line 4"),
    (["import torch\ndef dropout_forward(x, p, train=True, generator=None):\n    return torch.native_dropout(x, p, train)[0]\n"],
     ("dropout_forward",), ("dropout",), "`torch.native_dropout`", "cell 1, line 3"),
    (["from torch import nn\ndef dropout_forward(x, p, train=True, generator=None):\n"
      "    return nn.Dropout(p).train(train)(x)\n"], ("dropout_forward",), ("dropout",), "`torch.nn.Dropout`",
     "cell 1, line 3"),
    (["import torch\ndef batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1,"
      " eps=1e-5):\n    return torch.native_batch_norm(x, gamma, beta, running_mean, running_var, train, momentum,"
      " eps)[0], running_mean, running_var\n"], ("batchnorm_forward",), ("normalization",),
     "`torch.native_batch_norm`", "cell 1, line 3"),
    (["import torch.nn.functional as F\ndef batchnorm_forward(x, gamma, beta, rm, rv, train=True, momentum=0.1,"
      " eps=1e-5):\n    return F.layer_norm(x, x.shape[1:]), rm, rv\n"], ("batchnorm_forward",), ("normalization",),
     "`torch.nn.functional.layer_norm`", "cell 1, line 3"),
    (["import torch\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
      "    return torch._VF.lstm_cell(x, (h, c), W_ih, W_hh, b_ih, b_hh)\n"], ("lstm_step",), ("recurrent",),
     "`torch._VF.lstm_cell`", "cell 1, line 3"),
    (["from torch.nn import GRUCell\ndef gru_step(x, h, W_ih, W_hh, b_ih, b_hh):\n    return GRUCell(3, 4)(x, h)\n"],
     ("gru_step",), ("recurrent",), "`torch.nn.GRUCell`", "cell 1, line 1"),
    (["import torch\ndef conv2d_forward(x, w, b, stride=1, padding=0):\n"
      "    return torch.convolution(x, w, b, (stride,) * 2, (padding,) * 2, (1, 1), False, (0, 0), 1)\n"],
     ("conv2d_forward",), ("convolution", "windows"), "`torch.convolution`", "cell 1, line 3"),
    (["import torch.nn.functional as F\ndef conv2d_forward(x, w, b, stride=1, padding=0):\n"
      "    cols = F.unfold(x, w.shape[2:], padding=padding, stride=stride)\n    return cols\n"],
     ("conv2d_forward",), ("convolution", "windows"), "`torch.nn.functional.unfold`", "cell 1, line 3"),
    (["import torch\ndef maxpool2d_forward(x, kernel_size, stride=None, padding=0):\n"
      "    return torch.nn.MaxPool2d(kernel_size, stride, padding)(x)\n"],
     ("maxpool2d_forward",), ("pooling", "windows"), "`torch.nn.MaxPool2d`", "cell 1, line 3"),
]


@pytest.mark.parametrize("cells,entry,forbidden,label,where", ROUTES, ids=[f"route{i}" for i in range(len(ROUTES))])
def test_every_route_to_a_forbidden_function_is_found_with_its_line(cells, entry, forbidden, label, where):
    found = [f for f in scan(*cells, entry=entry, forbidden=forbidden) if f.kind == "forbidden"]
    assert found, "not found"
    assert found[0].label == label
    assert found[0].where.endswith(where)


# constructs the scan cannot follow: (cells, label, where)
UNFOLLOWABLE = [
    (["exec('def softmax(z, dim=-1): return z')\n"], "uses `exec`", "cell 1, line 1"),
    ([REFERENCE, "x = eval('1 + 1')\n"], "uses `eval`", "cell 2, line 1"),
    ([REFERENCE, "code = compile('1', 'f', 'eval')\n"], "uses `compile`", "cell 2, line 1"),
    ([REFERENCE, "m = __import__('torch')\n"], "uses `__import__`", "cell 2, line 1"),
    ([REFERENCE, "import importlib\n"], "imports `importlib`", "cell 2, line 1"),
    ([REFERENCE, "from runpy import run_path\n"], "imports `runpy.run_path`", "cell 2, line 1"),
    (["import torch\nname = 'soft' + 'max'\ndef softmax(z, dim=-1):\n    return getattr(torch, name)(z, dim)\n"],
     "uses `getattr` with a computed name", "cell 1, line 4"),
    (["import torch\nlookup = getattr\ndef softmax(z, dim=-1):\n    return lookup(torch, 'exp')(z)\n"],
     "uses `getattr` with a computed name", "cell 1, line 2"),
    ([REFERENCE, "import torch\nfor name in ['exp']:\n    setattr(torch, name, torch.sigmoid)\n"],
     "uses `setattr` with a computed name", "cell 2, line 3"),
    ([REFERENCE, "import torch\nsetattr(torch, 'exp', torch.sigmoid)\n"], "changes `torch.exp`", "cell 2, line 2"),
    ([REFERENCE, "import torch\ndelattr(torch.Tensor, 'exp')\n"], "changes `torch.Tensor.exp`", "cell 2, line 2"),
    ([REFERENCE, "import torch\ntorch.exp = lambda z: z\n"], "changes `torch.exp`", "cell 2, line 2"),
    ([REFERENCE, "import torch.nn.functional as F\nF.relu = print\n"], "changes `torch.nn.functional.relu`",
     "cell 2, line 2"),
    (["import torch\ndef softmax(z, dim=-1):\n    with torch._C.DisableTorchFunction():\n        return z.exp()\n"],
     "uses `torch._C`", "cell 1, line 3"),
    ([REFERENCE, "import torch\nstack = torch.ops.aten\n"], "uses `torch.ops`", "cell 2, line 2"),
    ([REFERENCE, "from torch.overrides import TorchFunctionMode\n"], "imports `torch.overrides`", "cell 2, line 1"),
    ([REFERENCE, "import torch.library\n"], "imports `torch.library`", "cell 2, line 1"),
    ([REFERENCE, "import grader.runner.forbid as watch\nwatch.ForbiddenWatch.__torch_function__ = None\n"],
     "imports `grader.runner.forbid`", "cell 2, line 1"),
    ([REFERENCE, "from _grader_course.unit1 import shallow\n"], "imports `_grader_course.unit1.shallow`",
     "cell 2, line 1"),
    ([REFERENCE, "import sys\nsys.modules['grader.runner.forbid'].ForbiddenWatch = None\n"], "uses `sys.modules`",
     "cell 2, line 2"),
    ([REFERENCE, "import sys\nframe = sys._getframe(0)\n"], "uses `sys._getframe`", "cell 2, line 2"),
    ([REFERENCE, "import gc\n"], "imports `gc`", "cell 2, line 1"),
    ([REFERENCE, "from inspect import currentframe\n"], "imports `inspect.currentframe`", "cell 2, line 1"),
    ([REFERENCE, "import ctypes\n"], "imports `ctypes`", "cell 2, line 1"),
    ([REFERENCE, "import pickle\n"], "imports `pickle`", "cell 2, line 1"),
    ([REFERENCE, "import marshal as m\n"], "imports `marshal`", "cell 2, line 1"),
    ([REFERENCE, "import types\nf = types.FunctionType(softmax.__code__, {})\n"], "uses `types.FunctionType`",
     "cell 2, line 2"),
    ([REFERENCE, "import builtins\n"], "imports `builtins`", "cell 2, line 1"),
    ([REFERENCE, "__builtins__['exp'] = None\n"], "uses `__builtins__`", "cell 2, line 1"),
    ([REFERENCE, "globals()['softmax'] = None\n"], "uses `globals`", "cell 2, line 1"),
    ([REFERENCE, "g = softmax.__globals__\n"], "uses `.__globals__`", "cell 2, line 1"),
    ([REFERENCE, "classes = ().__class__.__base__.__subclasses__()\n"], "uses `.__subclasses__`", "cell 2, line 1"),
    ([REFERENCE, "softmax.__code__ = (lambda z, dim=-1: z).__code__\n"], "uses `.__code__`", "cell 2, line 1"),
    ([REFERENCE, "import torch\nnames = torch.__dict__\n"], "uses `.__dict__`", "cell 2, line 2"),
    ([REFERENCE, "class Spy:\n    def __torch_function__(self, *a):\n        pass\n"], "defines `__torch_function__`",
     "cell 2, line 2"),
    ([REFERENCE, "class Spy:\n    __torch_function__ = classmethod(print)\n"], "defines `__torch_function__`",
     "cell 2, line 2"),
    ([REFERENCE, "import operator\nget = operator.attrgetter\ndef softmax2(z):\n    return get('exp')(z)\n",
      "def softmax(z, dim=-1):\n    return softmax2(z)\n"], "uses `operator.attrgetter`", "cell 2, line 2"),
    ([REFERENCE, "def setup():\n    exec('import torch')\n", "setup()\n"], "uses `exec`", "cell 2, line 2"),
    ([REFERENCE, "import torch\nm = torch.load('m.pt', weights_only=False)\n"],
     "uses `torch.load` with weights_only=False", "cell 2, line 2"),
    ([REFERENCE, "import timeit\ntimeit.timeit('exp = None', number=1)\n"], "uses `timeit` on code in a string",
     "cell 2, line 2"),
    ([REFERENCE, "import __main__\n"], "imports `__main__`", "cell 2, line 1"),
    (["import torch\nlookup = getattr\n", "getattr = None\n",
      "def softmax(z, dim=-1):\n    return lookup(torch, 'soft' + 'max')(z, dim)\n"],
     "uses `getattr` with a computed name", "cell 1, line 2"),
    (["import torch\ndef get(self, name):\n    return getattr(self, name)\n",
      "def softmax(z, dim=-1):\n    return get(torch, 'soft' + 'max')(z, dim)\n"],
     "uses `getattr` with a computed name", "cell 1, line 3"),
]


@pytest.mark.parametrize("cells,label,where", UNFOLLOWABLE, ids=[f"construct{i}" for i in range(len(UNFOLLOWABLE))])
def test_constructs_the_scan_cannot_follow_are_findings(cells, label, where):
    found = [f for f in scan(*cells) if f.kind == "unfollowable"]
    assert (label, f"losses.ipynb, {where}") in named(found), named(found)


def test_an_unfollowable_construct_costs_nothing_where_nothing_is_forbidden():
    assert scan(REFERENCE, "exec('x = 1')\n", entry=("perceptron_forward",), forbidden=()) == []


def test_a_cell_too_large_to_check_is_a_finding():
    big = REFERENCE + "x = 1\n" * 60_000
    found = scan(big)
    assert named(found) == [("has a cell of 360,122 characters, too large to check", "losses.ipynb, cell 1")]


def test_a_cell_that_does_not_parse_is_skipped_like_the_worker_skips_it():
    assert scan(REFERENCE, "def broken(:\n    torch.softmax\n") == []


# honest code, in unusual styles: (cells, entry, forbidden)
HONEST = [
    ([f"import torch\n{REFERENCE}", "z = torch.randn(3, 4)\nprint(softmax(z) - torch.softmax(z, -1))\n",
      "import torch.nn.functional as F\nassert torch.allclose(softmax(z, 0), F.softmax(z, 0))\n"], ENTRY, SOFTMAX),
    (["from grader import check\n", f"import torch\n{REFERENCE}", "check('softmax')\n"], ENTRY, SOFTMAX),
    (["import torch\ndef _shift(z, dim):\n    return z - torch.logsumexp(z, dim, keepdim=True)\n"
      "def softmax(z, dim=-1):\n    return _shift(z, dim).exp()\n"], ENTRY, SOFTMAX),
    (["import torch\nclass Softmax:\n    def __init__(self, dim):\n        self.dim = dim\n"
      "    def __call__(self, z):\n        e = (z - z.amax(self.dim, keepdim=True)).exp()\n"
      "        return e / e.sum(self.dim, keepdim=True)\n"
      "def softmax(z, dim=-1):\n    return Softmax(dim)(z)\n"], ENTRY, SOFTMAX),
    (["import torch\ndef softmax(z, dim=-1, F=None):\n    exp = torch.exp\n    e = exp(z - z.amax(dim, keepdim=True))\n"
      "    return e / e.sum(dim, keepdim=True)\n", "import torch.nn.functional as F\nF.softmax(torch.ones(2), 0)\n"],
     ENTRY, SOFTMAX),
    ([f"import torch\n{REFERENCE}", "results = [softmax(z) for z in [torch.ones(3)]]\n",
      "expected = [torch.softmax(z, -1) for z in [torch.ones(3)]]\n"], ENTRY, SOFTMAX),
    (["import torch\nimport torch.optim\nimport torch.optim as optim\n",
      "def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
      "    m = beta1 * m + (1 - beta1) * dw\n    v = beta2 * v + (1 - beta2) * dw ** 2\n"
      "    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)\n"
      "    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v\n",
      "p = torch.nn.Parameter(torch.zeros(3))\nopt = optim.Adam([p])\n"], ("adam_step",), ("optimiser", "foreach")),
    (["import torch\nimport torch.nn.functional as F\n"
      "def conv2d_forward(x, w, b, stride=1, padding=0):\n    x = F.pad(x, (padding,) * 4)\n"
      "    cols = x.unfold(2, w.shape[2], stride).unfold(3, w.shape[3], stride)\n"
      "    return torch.einsum('nchwij,fcij->nfhw', cols, w) + b[None, :, None, None]\n"],
     ("conv2d_forward",), ("convolution", "windows")),
    (["import torch\ndef dropout_forward(x, p, train=True, generator=None):\n    if not train or p == 0:\n        return x\n"
      "    keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)\n    return x * keep / (1 - p)\n"],
     ("dropout_forward",), ("dropout",)),
    (["import torch\ntorch.backends.cudnn.deterministic = True\n",
      "def relu_backward(dout, x):\n    with torch.no_grad():\n        return dout * (x > 0)\n"],
     ("relu_backward",), ("autograd",)),
    (["import torch\nclass Block:\n    def __init__(self, n):\n        for i in range(n):\n"
      "            setattr(self, f'w{i}', torch.ones(1))\n        self.__dict__.update(n=n)\n"
      "    def weights(self):\n        return [getattr(self, f'w{i}') for i in range(self.n)]\n"
      "def rnn_step(x, h, W_xh, W_hh, b):\n    Block(2).weights()\n    return torch.tanh(x @ W_xh + h @ W_hh + b)\n"],
     ("rnn_step",), ("recurrent",)),
    (["import torch\ndef perceptron_forward(x, w, b, activation='sigmoid'):\n"
      "    return getattr(torch, activation)(x @ w + b)\n", "print(perceptron_forward(torch.ones(2), torch.ones(2), 0.0))\n",
      f"{REFERENCE}"], ENTRY, SOFTMAX),
    (["import timeit\n", REFERENCE, "import torch\nif 'z' not in globals() and 'z' not in vars():\n"
      "    z = torch.ones(3)\n",
      "print(timeit.timeit(lambda: softmax(z), number=3))\n"], ENTRY, SOFTMAX),
    (["raise_it = False\n", "def clip_grad_value(grads, clip):\n    if raise_it:\n"
      "        raise NotImplementedError('clip_grad_value')\n    return [g.clamp(-clip, clip) for g in grads]\n"],
     ("clip_grad_value",), ("clip_grad", "foreach")),
]


@pytest.mark.parametrize("cells,entry,forbidden", HONEST, ids=[f"honest{i}" for i in range(len(HONEST))])
def test_honest_code_in_unusual_styles_is_not_flagged(cells, entry, forbidden):
    assert named(scan(*cells, entry=entry, forbidden=forbidden)) == []


VALUE = """
import math
class Value:
    def __init__(self, data, _children=()):
        self.data, self.grad, self._prev, self._backward = data, 0.0, _children, lambda: None
    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other))
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out
    def backward(self):
        order, seen = [], set()
        def visit(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    visit(child)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
"""


def test_a_submission_that_defines_backward_may_call_it():
    test_cell = "a = Value(2.0)\nb = a * a\nb.backward()\nprint(a.grad)\n"
    assert scan(VALUE, test_cell, entry=("Value",), forbidden=("autograd",)) == []


def test_a_torch_tensor_backward_is_caught_even_beside_the_students_own():
    cheat = VALUE.replace("        self.grad = 1.0\n", "        import torch\n        t = torch.tensor(1.0, "
                          "requires_grad=True)\n        t.backward()\n        self.grad = 1.0\n")
    found = scan(cheat, entry=("Value",), forbidden=("autograd",))
    assert named(found) == [("`torch.Tensor.backward`", "losses.ipynb, cell 1, line 24")]


# the student's message ----------------------------------------------------------
def test_message_for_a_forbidden_function_names_what_and_where():
    found = scan("import torch\n", "def softmax(z, dim=-1):\n    z = z - z.amax(dim, keepdim=True)\n"
                 "    return torch.softmax(z, dim)\n")
    assert shortcut_message(found, "write it with exp, a max and a sum") == (
        "uses `torch.softmax` (losses.ipynb, cell 2, line 3), which this exercise does not allow; "
        "write it with exp, a max and a sum")


def test_message_lists_several_forbidden_functions():
    found = scan("import torch\ndef softmax(z, dim=-1):\n    a = torch.softmax(z, dim)\n"
                 "    b = z.log_softmax(dim)\n    c = torch.special.softmax(z, dim)\n    d = torch._softmax(z, dim, False)\n"
                 "    return a\n")
    assert shortcut_message(found) == (
        "uses `torch.softmax` (losses.ipynb, cell 1, line 3), `torch.Tensor.log_softmax` (losses.ipynb, cell 1, "
        "line 4), `torch.special.softmax` (losses.ipynb, cell 1, line 5) and 1 more, which this exercise does not "
        "allow")


def test_message_for_a_construct_the_grader_cannot_follow():
    found = scan("import torch\n", "exec('y = 2')\n", REFERENCE)
    assert shortcut_message(found, "write it with exp, a max and a sum") == (
        "uses `exec` (losses.ipynb, cell 2, line 1): the grader cannot follow code run that way, and this exercise "
        "forbids shortcuts; remove it")
    found = scan("import torch\n", "exec('y = 2')\neval('3')\n", REFERENCE)
    assert shortcut_message(found).endswith("; remove it (and 1 more place like it)")


# the run-time watch: a second signal, expanded to families, filtered by the trusted side -----
def test_the_watch_expands_families_to_what_exists_in_this_torch():
    watched = set(targets(("softmax",)).values())
    assert {"torch.softmax", "torch._softmax", "torch.special.softmax", "torch.Tensor.softmax",
            "torch.nn.functional.log_softmax"} <= watched
    watch = ForbiddenWatch(["softmax", "not_a_family"])
    z = torch.randn(2, 3)
    with watch:
        torch._softmax(z, 1, False)
        z.exp()
    assert watch.used == ["torch._softmax"]


def test_a_worker_report_only_counts_for_names_the_exercise_forbids():
    assert forbids("torch._softmax", SOFTMAX) and forbids("torch.nn.Softmax2d", SOFTMAX)
    assert not forbids("torch.exp", SOFTMAX) and not forbids("torch.nn.functional.conv2d", SOFTMAX)
    assert not forbids("torch.Tensor.unfold", ("convolution", "windows"))

    class Reporting(InProcessSession):
        def run(self, request: dict, timeout: float):  # a worker that reports what it likes
            result = super().run(request, timeout)
            result.forbidden_used = ["torch.nn.functional.conv2d", 42]
            return result

    namespace: dict = {}
    exec(compile("import torch\n" + REFERENCE, "<student>", "exec"), namespace)  # noqa: S102
    from grader.checking import run_checks
    from grader.notebook.collect import Submission

    result = run_checks(COURSE, COURSE.unit("unit1"), Submission([Cell("import torch\n" + REFERENCE, "<student>")]),
                        Reporting(namespace), only=["softmax"])
    assert result.exercises["softmax"].score == result.exercises["softmax"].max_score


# the course's lists ------------------------------------------------------------------
def test_every_forbidden_entry_of_the_course_is_a_family_or_a_dotted_name():
    from grader.spec.loader import load_unit_spec

    for unit in COURSE.units:
        for exercise in load_unit_spec(COURSE, unit).exercises.values():
            families(exercise.forbidden)  # raises on a typo
            assert all(e in FAMILIES or "." in e for e in exercise.forbidden)
    with pytest.raises(ValueError, match="neither a family"):
        families(("sofmax",))


def test_family_methods_cover_every_tensor_method_their_pattern_matches():
    for family in FAMILIES.values():
        for attr in dir(torch.Tensor):
            if not attr.startswith("_") and family.pattern and re.search(family.pattern, normalise(attr)):
                assert attr in family.methods or f"torch.Tensor.{attr}" in family.allowed, (family.name, attr)


# through the checker ---------------------------------------------------------------------
def test_a_bypass_fails_every_check_in_process():
    source = "import torch\ndef softmax(z, dim=-1):\n    return torch._softmax(z, dim, False)\n"
    result = check_source("unit1", source, ["softmax"]).exercises["softmax"]
    message = ("uses `torch._softmax` (<student>, line 3), which this exercise does not allow; "
               "write it with exp, a max and a sum")
    assert result.score == 0 and result.error == message
    assert result.checks and all(not c.passed and c.message == message for c in result.checks)


def test_a_bypass_fails_through_a_real_worker(tmp_path):
    cells = ["import torch\n",
             "def softmax(z, dim=-1):\n    with torch._C.DisableTorchFunction():\n"
             "        return torch.special.softmax(z, dim)\n"]
    notebook = write_notebook(tmp_path / "losses.ipynb", cells)
    result = check_path("unit1", notebook, ["softmax"]).exercises["softmax"]
    assert result.score == 0
    assert result.error == ("uses `torch.special.softmax` (losses.ipynb, cell 2, line 3), which this exercise does "
                            "not allow; write it with exp, a max and a sum")


def test_the_adam_bypasses_fail_through_a_real_worker(tmp_path):
    cells = ["import torch\n",
             "def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
             "    w, m, v = w.clone(), m.clone(), v.clone()\n"
             "    torch.optim.adam.adam([w], [dw], [m], [v], [], [torch.tensor(float(t - 1))], foreach=False,\n"
             "        lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=0.0, amsgrad=False, maximize=False)\n"
             "    return w, m, v\n"]
    notebook = write_notebook(tmp_path / "training.ipynb", cells)
    result = check_path("unit2", notebook, ["adam_step"]).exercises["adam_step"]
    assert result.score == 0
    assert result.error.startswith("uses `torch.optim.adam.adam` (training.ipynb, cell 2, line 3)")
