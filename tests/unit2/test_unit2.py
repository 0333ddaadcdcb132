"""Unit 2: references pass, the starter fails, typical wrong code gets its hint, references agree with torch.

The wrong implementations below are written as a student would write them;
they are not taken from solutions/unit2/mistakes.py.
"""
import importlib.util
import shutil

import pytest
import torch
import torch.nn.functional as F

from helpers import COURSE, ROOT, assert_fails_with, assert_references_pass, assert_starter_fails_every_exercise, check_source

UNIT = "unit2"
REFERENCES = ("engine.py", "layers.py", "optim.py", "init.py")
HEADER = "import math\nimport torch\nimport torch.nn.functional as F\n"


def _exercise_names():
    return {e.name for e in COURSE.unit(UNIT).exercises}


def test_references_pass_every_check(tmp_path):
    for name in REFERENCES:
        shutil.copy(ROOT / "solutions" / UNIT / name, tmp_path / name)
    assert_references_pass(UNIT, tmp_path)


def test_starter_notebook_fails_every_exercise():
    assert_starter_fails_every_exercise(UNIT)



# A Value written in one piece, with switches for the bugs students make -----
VALUE = '''
class Value:
    def __init__(self, data, _children=()):
        self.data = data
        self.grad = 0
        self._backward = lambda: None
        self._prev = _children

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))
        def _backward():
            ADD_BACKWARD
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))
        def _backward():
            MUL_BACKWARD
        out._backward = _backward
        return out

    def __pow__(self, k):
        out = Value(self.data ** k, (self,))
        def _backward():
            POW_BACKWARD
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,))
        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,))
        def _backward():
            TANH_BACKWARD
        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,))
        def _backward():
            RELU_BACKWARD
        out._backward = _backward
        return out

    def backward(self):
        BACKWARD

    def __neg__(self): return self * -1
    def __sub__(self, other): return self + (-other)
    def __truediv__(self, other): return self * other ** -1
    def __radd__(self, other): return self + other
    def __rsub__(self, other): RSUB
    def __rmul__(self, other): return self * other
    def __rtruediv__(self, other): return Value(other) * self ** -1
'''
RIGHT = {
    "ADD_BACKWARD": "self.grad += out.grad; other.grad += out.grad",
    "MUL_BACKWARD": "self.grad += other.data * out.grad; other.grad += self.data * out.grad",
    "POW_BACKWARD": "self.grad += k * self.data ** (k - 1) * out.grad",
    "TANH_BACKWARD": "self.grad += (1 - out.data ** 2) * out.grad",
    "RELU_BACKWARD": "self.grad += (self.data > 0) * out.grad",
    "BACKWARD": """topo, seen = [], set()
        def build(v):
            if v not in seen:
                seen.add(v)
                for c in v._prev:
                    build(c)
                topo.append(v)
        build(self)
        self.grad = 1
        for v in reversed(topo):
            v._backward()""",
    "RSUB": "return Value(other) - self",
}


def value_source(**changes):
    text = VALUE
    for key, code in {**RIGHT, **changes}.items():
        text = text.replace(key, code)
    return text


# init_weight: one template, with the parts students get wrong as slots -------
INIT_TEMPLATE = """
def init_weight(shape, scheme, generator=None):
    rf = math.prod(shape[2:])
    fan_in, fan_out = {fans}
    var = {{"xavier_uniform": 2 / (fan_in + fan_out), "xavier_normal": 2 / (fan_in + fan_out),
            "he_uniform": 2 / fan_in, "he_normal": 2 / fan_in, "lecun_normal": 1 / fan_in}}.get(scheme)
    if var is None:
        raise ValueError(f"unknown scheme {{scheme}}")
    w = torch.empty(shape)
    if scheme.endswith("uniform"):
        a = {bound}
        return w.uniform_(-a, a, {gen})
    return w.normal_(0.0, math.sqrt(var), {gen})
"""
INIT_OK = INIT_TEMPLATE.format(fans="shape[1] * rf, shape[0] * rf", bound="math.sqrt(3 * var)", gen="generator=generator")


CATALOGUE = [
    # (exercise, student source, hint substring or None, message substring)
    ("Value", value_source(ADD_BACKWARD="self.grad = out.grad; other.grad = out.grad"), "grad +=", ""),
    ("Value", value_source(MUL_BACKWARD="self.grad += other.data; other.grad += self.data"), "upstream gradient", ""),
    ("Value", value_source(POW_BACKWARD="self.grad += k * self.data ** k * out.grad"), "n * x ** (n - 1)", ""),
    ("Value", value_source(TANH_BACKWARD="self.grad += (1 - out.data) * out.grad"), "1 - tanh(x) ** 2", ""),
    ("Value", value_source(RELU_BACKWARD="self.grad += out.grad"), "only where its input is positive", ""),
    ("Value", value_source(BACKWARD="""self.grad = 1
        def propagate(v):
            v._backward()
            for child in v._prev:
                propagate(child)
        propagate(self)"""), "reverse topological order", ""),
    ("Value", value_source(RSUB="return self - other"), "__rsub__", ""),
    ("Value", value_source(ADD_BACKWARD="self.grad += out.grad; other.grad += out.grad; self.grad = float(self.grad)",
                           BACKWARD="loss = torch.tensor(self.data, requires_grad=True); loss.backward()"),
     None, "does not allow"),
    ("affine_forward", "def affine_forward(x, w, b):\n    return torch.matmul(x, w)\n", "add the bias", ""),
    ("affine_forward", "def affine_forward(x, w, b):\n    return F.linear(x, w.T, b)\n", None, "does not allow"),
    ("affine_backward", """
def affine_backward(dout, x, w, b):
    return dout @ w.T, x.T @ dout, dout.mean(0)
""", "db sums dout", ""),
    ("affine_backward", """
def affine_backward(dout, x, w, b):
    n = x.shape[0]
    return dout @ w.T, (x.T @ dout) / n, dout.sum(0) / n
""", "do not divide dw and db by N", ""),
    ("affine_backward", """
def affine_backward(dout, x, w, b):
    x, w, b = x.clone().requires_grad_(), w.clone().requires_grad_(), b.clone().requires_grad_()
    return torch.autograd.grad(x @ w + b, (x, w, b), dout)
""", None, "does not allow"),
    ("relu_backward", "def relu_backward(dout, x):\n    return torch.where(x >= 0, dout, torch.zeros_like(dout))\n",
     "x == 0 exactly", ""),
    ("relu_backward", "def relu_backward(dout, x):\n    return (x > 0).to(dout.dtype)\n", "upstream gradient dout", ""),
    ("relu_backward", "def relu_backward(dout, x):\n    dout[x <= 0] = 0\n    return dout\n", None, "in place"),
    ("mlp_loss_and_grads", """
def mlp_loss_and_grads(X, y, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z = X @ W1 + b1
    h = torch.relu(z)
    s = h @ W2 + b2
    p = torch.softmax(s, dim=1)
    idx = torch.arange(len(y))
    loss = -torch.log(p[idx, y]).mean()
    ds = p.clone()
    ds[idx, y] -= 1
    dh = ds @ W2.T
    dz = dh * (z > 0)
    return loss, {"W1": X.T @ dz, "b1": dz.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}
""", "divide dscores by N", ""),
    ("mlp_loss_and_grads", """
def mlp_loss_and_grads(X, y, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h = torch.relu(X @ W1 + b1)
    s = h @ W2 + b2
    p = torch.softmax(s, dim=1)
    idx = torch.arange(len(y))
    loss = -torch.log(p[idx, y]).mean()
    ds = p.clone()
    ds[idx, y] -= 1
    ds = ds / len(y)
    dh = ds @ W2.T
    return loss, {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}
""", "through the ReLU", ""),
    ("mlp_loss_and_grads", """
def mlp_loss_and_grads(X, y, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z = X @ W1 + b1
    h = torch.relu(z)
    e = torch.exp(h @ W2 + b2)
    p = e / e.sum(dim=1, keepdim=True)
    idx = torch.arange(len(y))
    ds = p.clone()
    ds[idx, y] -= 1
    ds = ds / len(y)
    dz = ds @ W2.T * (z > 0)
    loss = (torch.log(e.sum(dim=1)) - torch.log(e[idx, y])).mean()
    return loss, {"W1": X.T @ dz, "b1": dz.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}
""", "subtract the row max", "got nan"),
    ("mlp_loss_and_grads", """
def mlp_loss_and_grads(X, y, params):
    params = {k: v.clone().requires_grad_() for k, v in params.items()}
    s = torch.relu(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    loss = F.cross_entropy(s, y)
    loss.backward()
    return loss.detach(), {k: v.grad for k, v in params.items()}
""", None, "does not allow"),
    ("sgd_momentum_step", """
def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    v = beta * v + dw
    return w - lr * v, v
""", "(1 - beta)", ""),
    ("sgd_momentum_step", """
def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    v_new = beta * v - lr * dw
    return w + v_new, v_new
""", "keeps lr out of v", ""),
    ("sgd_momentum_step", """
def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    v.mul_(beta).add_((1 - beta) * dw)
    return w - lr * v, v
""", None, "in place"),
    ("adagrad_step", """
def adagrad_step(w, dw, cache, lr, eps=1e-8):
    cache = cache + dw * dw
    return w - lr * dw / (cache.sqrt() + eps), cache
""", "inside the square root", ""),
    ("adagrad_step", """
def adagrad_step(w, dw, cache, lr, eps=1e-8):
    cache = dw ** 2
    return w - lr * dw / torch.sqrt(cache + eps), cache
""", "adds up the squared gradients", ""),
    ("rmsprop_step", """
def rmsprop_step(w, dw, cache, lr, decay=0.9, eps=1e-8):
    cache = decay * dw ** 2 + (1 - decay) * cache
    return w - lr * dw / (cache.sqrt() + eps), cache
""", "decay weighs the old cache", ""),
    ("rmsprop_step", """
def rmsprop_step(w, dw, cache, lr, decay=0.9, eps=1e-8):
    cache = decay * cache + (1 - decay) * dw ** 2
    return w - lr * dw / (cache + eps).sqrt(), cache
""", "outside the square root", ""),
    ("adam_step", """
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    return w - lr * m / (v.sqrt() + eps), m, v
""", "correct the bias", ""),
    ("adam_step", """
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m = m / (1 - beta1 ** t)
    v = v / (1 - beta2 ** t)
    return w - lr * m / (v.sqrt() + eps), m, v
""", "not the bias-corrected", ""),
    ("adam_step", """
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    step = t - 1                     # counts from 0
    m_hat = m / (1 - beta1 ** (step + 2))
    v_hat = v / (1 - beta2 ** (step + 2))
    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v
""", "t counts from 1", ""),
    ("adam_step", """
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    p = torch.nn.Parameter(w.clone())
    p.grad = dw.clone()
    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
    opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]
""", None, "uses `torch.optim.Adam` (<student>, line 8), which this exercise does not allow"),
    ("lr_time_decay", "def lr_time_decay(lr0, decay_rate, epoch):\n    return lr0 * math.exp(-decay_rate * epoch)\n",
     "not an exponential", ""),
    ("lr_time_decay", "def lr_time_decay(lr0, decay_rate, epoch):\n    return lr0 * (1 / (1 + decay_rate)) ** epoch\n",
     "no power", ""),
    ("clip_grad_value", "def clip_grad_value(grads, clip):\n    return [torch.clamp(g, max=clip) for g in grads]\n",
     "clip both sides", ""),
    ("clip_grad_value", "def clip_grad_value(grads, clip):\n    return [g.clamp_(-clip, clip) for g in grads]\n",
     None, "in place"),
    ("clip_grad_norm", """
def clip_grad_norm(grads, max_norm):
    out = []
    for g in grads:
        n = g.norm()
        out.append(g * max_norm / (n + 1e-6) if n > max_norm else g)
    return out, torch.sqrt(sum(g.norm() ** 2 for g in grads))
""", "the norm is global", ""),
    ("clip_grad_norm", """
def clip_grad_norm(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * (max_norm / (total + 1e-6)) for g in grads], total
""", "scale only when", ""),
    ("clip_grad_norm", """
def clip_grad_norm(grads, max_norm):
    total = torch.cat([g.flatten() for g in grads]).norm()
    scale = min(1.0, max_norm / total.item())
    return [g * scale for g in grads], total
""", "total_norm + 1e-6", ""),
    ("clip_grad_norm", """
def clip_grad_norm(grads, max_norm):
    grads = [g.clone() for g in grads]
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params], total
""", None, "does not allow"),
    ("init_weight", INIT_TEMPLATE.format(fans="shape[1], shape[0]", bound="math.sqrt(3 * var)", gen="generator=generator"),
     "fan_in = in * kh * kw", ""),
    ("init_weight", INIT_TEMPLATE.format(fans="shape[0] * rf, shape[1] * rf", bound="math.sqrt(3 * var)",
                                         gen="generator=generator"), "you swapped them", ""),
    ("init_weight", INIT_TEMPLATE.format(fans="shape[1] * rf, shape[0] * rf", bound="math.sqrt(var)",
                                         gen="generator=generator"), "sqrt(3)", ""),
    ("init_weight", INIT_TEMPLATE.format(fans="shape[1] * rf, shape[0] * rf", bound="math.sqrt(3 * var)", gen=""),
     "so a seed reproduces the weights", ""),
    ("init_weight", """
def init_weight(shape, scheme, generator=None):
    w = torch.empty(shape)
    fn = {"xavier_uniform": torch.nn.init.xavier_uniform_, "xavier_normal": torch.nn.init.xavier_normal_,
          "he_uniform": torch.nn.init.kaiming_uniform_, "he_normal": torch.nn.init.kaiming_normal_}
    return fn[scheme](w, generator=generator)
""", None, "does not allow"),
    ("init_weight", """
def init_weight(shape, scheme, generator=None):
    rf = 1
    for k in shape[2:]:
        rf *= k
    fan_in, fan_out = shape[1] * rf, shape[0] * rf
    if scheme.startswith("xavier"):
        var = 2 / (fan_in + fan_out)
    elif scheme.startswith("he"):
        var = 2 / fan_in
    elif scheme == "lecun_normal":
        var = 1 / fan_in
    else:
        raise ValueError(scheme)
    if scheme.endswith("uniform"):
        a = math.sqrt(3 * var)
        return torch.empty(shape).uniform_(-a, a, generator=generator)
    return torch.empty(shape).normal_(0, var, generator=generator)
""", "the square root of the variance", ""),
    ("activation_variance_through_depth", INIT_OK + """
def activation_variance_through_depth(x, depth, scheme, activation="relu", generator=None):
    act = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}[activation]
    h, out = x, []
    for _ in range(depth):
        z = h @ init_weight((x.shape[1], x.shape[1]), scheme, generator).T
        out.append(z.var())
        h = act(z)
    return torch.stack(out)
""", "after the activation", ""),
    ("activation_variance_through_depth", INIT_OK + """
def activation_variance_through_depth(x, depth, scheme, activation="relu", generator=None):
    act = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}[activation]
    h, out = x, []
    for _ in range(depth):
        h = act(h @ torch.randn(x.shape[1], x.shape[1], generator=generator))
        out.append(h.var())
    return torch.tensor(out)
""", "not with a fixed scale", ""),
    ("activation_variance_through_depth", INIT_OK + """
def activation_variance_through_depth(x, depth, scheme, activation="relu", generator=None):
    act = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}[activation]
    h, out = x, [x.var()]
    for _ in range(depth):
        h = act(h @ init_weight((x.shape[1], x.shape[1]), scheme, generator).T)
        out.append(h.var())
    return torch.stack(out)
""", "leave out the input", "number of values"),
]


@pytest.mark.parametrize("exercise,source,hint,message", CATALOGUE,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CATALOGUE)])
def test_wrong_implementation_fails_with_its_hint(exercise, source, hint, message):
    assert_fails_with(UNIT, exercise, HEADER + source, hint, message)


def test_catalogue_covers_every_exercise():
    assert {c[0] for c in CATALOGUE} == _exercise_names()


def test_other_sound_implementations_are_accepted():
    """A Value with int grads and a list of children, and optimisers written another way, all pass."""
    source = HEADER + value_source() + """
def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    v = torch.lerp(dw, v, beta)
    return torch.add(w, v, alpha=-lr), v

def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = m.lerp(dw, 1 - beta1)
    v = v * beta2 + dw.square() * (1 - beta2)
    step = lr / (1 - beta1 ** t)
    return w - step * m / (v.sqrt() / math.sqrt(1 - beta2 ** t) + eps), m, v

def clip_grad_norm(grads, max_norm):
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * coef for g in grads], total
"""
    names = ["Value", "sgd_momentum_step", "adam_step", "clip_grad_norm"]
    result = check_source(UNIT, source, names)
    for ex in result.exercises.values():
        assert ex.passed, (ex.name, [c.message for c in ex.checks if not c.passed])


def test_init_weight_written_another_way_passes():
    """Uniform draws from torch.rand and normal ones from torch.randn, both with the generator, pass."""
    source = HEADER + """
def init_weight(shape, scheme, generator=None):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    table = {"xavier_uniform": (True, 2 / (fan_in + fan_out)), "xavier_normal": (False, 2 / (fan_in + fan_out)),
             "he_uniform": (True, 2 / fan_in), "he_normal": (False, 2 / fan_in), "lecun_normal": (False, 1 / fan_in)}
    if scheme not in table:
        raise ValueError(scheme)
    uniform, var = table[scheme]
    device = generator.device if generator is not None else "cpu"
    if uniform:
        a = (3 * var) ** 0.5
        return (torch.rand(shape, generator=generator, device=device) * 2 - 1) * a
    return torch.randn(shape, generator=generator, device=device) * var ** 0.5
"""
    result = check_source(UNIT, source, ["init_weight"]).exercises["init_weight"]
    assert result.passed, [c.message for c in result.checks if not c.passed]


# The references agree with PyTorch ------------------------------------------
def _reference():
    spec = importlib.util.spec_from_file_location("unit2_reference", ROOT / "solutions" / UNIT / "optim.py")
    optim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(optim)
    spec = importlib.util.spec_from_file_location("unit2_layers", ROOT / "solutions" / UNIT / "layers.py")
    layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layers)
    spec = importlib.util.spec_from_file_location("unit2_engine", ROOT / "solutions" / UNIT / "engine.py")
    engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine)
    return engine, layers, optim


def test_value_matches_autograd_on_a_neuron():
    engine, _, _ = _reference()
    V = engine.Value
    xs, ws, b = [2.0, -1.0, 0.5], [-0.3, 0.8, 1.2], 0.1
    vx, vw, vb = [V(x) for x in xs], [V(w) for w in ws], V(b)
    out = (sum((x * w for x, w in zip(vx, vw)), vb)).tanh() * vx[0] / (vw[1] ** 2 + 1) - vx[0].exp().relu()
    out.backward()
    tx = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(ws, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    t_out = ((tx * tw).sum() + tb).tanh() * tx[0] / (tw[1] ** 2 + 1) - tx[0].exp().relu()
    t_out.backward()
    assert out.data == pytest.approx(t_out.item(), abs=1e-12)
    assert [v.grad for v in vx] == pytest.approx(tx.grad.tolist(), abs=1e-12)
    assert [v.grad for v in vw] == pytest.approx(tw.grad.tolist(), abs=1e-12)
    assert vb.grad == pytest.approx(tb.grad.item(), abs=1e-12)


def test_layers_match_autograd():
    _, layers, _ = _reference()
    g = torch.Generator().manual_seed(0)
    X = torch.randn(7, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (7,), generator=g)
    params = {"W1": torch.randn(4, 5, generator=g, dtype=torch.float64), "b1": torch.randn(5, generator=g, dtype=torch.float64),
              "W2": torch.randn(5, 3, generator=g, dtype=torch.float64), "b2": torch.randn(3, generator=g, dtype=torch.float64)}
    loss, grads = layers.mlp_loss_and_grads(X, y, params)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    t_loss = F.cross_entropy(torch.relu(X @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"], y)
    t_loss.backward()
    torch.testing.assert_close(loss, t_loss.detach())
    for k in params:
        torch.testing.assert_close(grads[k], leaves[k].grad)
    dout = torch.randn(7, 5, generator=g, dtype=torch.float64)
    x = X.clone().requires_grad_(True)
    w, b = leaves["W1"].detach().clone().requires_grad_(True), leaves["b1"].detach().clone().requires_grad_(True)
    (x @ w + b).backward(dout)
    for mine, theirs in zip(layers.affine_backward(dout, X, w.detach(), b.detach()), (x.grad, w.grad, b.grad)):
        torch.testing.assert_close(mine, theirs)


def _trajectory(step, w0, grads, state, **kwargs):
    w, out = w0, []
    for i, g in enumerate(grads):
        w, *state = step(w, g, *state, **({"t": i + 1} if "beta1" in kwargs else {}), **kwargs)
        out.append(w)
    return torch.stack(out)


def _torch_trajectory(optimizer_cls, w0, grads, **kwargs):
    p = torch.nn.Parameter(w0.clone())
    opt = optimizer_cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        out.append(p.detach().clone())
    return torch.stack(out)


def test_optimisers_match_torch_optim_over_many_steps():
    _, _, optim = _reference()
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(6, generator=g, dtype=torch.float64)
    grads = torch.randn(40, 6, generator=g, dtype=torch.float64)
    zeros = torch.zeros(6, dtype=torch.float64)
    adam = _trajectory(optim.adam_step, w0, grads, [zeros, zeros], lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    torch.testing.assert_close(adam, _torch_trajectory(torch.optim.Adam, w0, grads, lr=0.01))
    rms = _trajectory(optim.rmsprop_step, w0, grads, [zeros], lr=0.01, decay=0.95, eps=1e-8)
    torch.testing.assert_close(rms, _torch_trajectory(torch.optim.RMSprop, w0, grads, lr=0.01, alpha=0.95, eps=1e-8))
    # torch puts AdaGrad's eps outside the root; with eps=1e-10 the two forms agree closely
    ada = _trajectory(optim.adagrad_step, w0, grads, [zeros], lr=0.1, eps=1e-10)
    torch.testing.assert_close(ada, _torch_trajectory(torch.optim.Adagrad, w0, grads, lr=0.1, eps=1e-10))
    # torch's SGD starts its buffer at the first gradient; from step 2 on, dampening=beta is the lecture's form
    mom = _trajectory(optim.sgd_momentum_step, w0, grads, [grads[0] / (1 - 0.9)], lr=0.1, beta=0.9)
    p = torch.nn.Parameter(w0.clone())
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.9)
    opt.state[p] = {"momentum_buffer": grads[0] / (1 - 0.9)}
    expected = []
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
        expected.append(p.detach().clone())
    torch.testing.assert_close(mom, torch.stack(expected))


def test_clipping_matches_torch_nn_utils():
    _, _, optim = _reference()
    g = torch.Generator().manual_seed(2)
    grads = [torch.randn(3, 4, generator=g), torch.randn(5, generator=g) * 4]
    before = [t.clone() for t in grads]
    for max_norm in (0.5, 100.0):
        params = [torch.nn.Parameter(torch.zeros_like(t)) for t in grads]
        for p, t in zip(params, grads):
            p.grad = t.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        clipped, mine = optim.clip_grad_norm(grads, max_norm)
        torch.testing.assert_close(mine, total)
        for a, p in zip(clipped, params):
            torch.testing.assert_close(a, p.grad)
    params = [torch.nn.Parameter(torch.zeros_like(t)) for t in grads]
    for p, t in zip(params, grads):
        p.grad = t.clone()
    torch.nn.utils.clip_grad_value_(params, 0.7)
    for a, p in zip(optim.clip_grad_value(grads, 0.7), params):
        torch.testing.assert_close(a, p.grad)
    for a, b in zip(grads, before):
        assert torch.equal(a, b)


# The statistics the initialisation checks rest on ---------------------------
def test_draw_measurements_tell_uniform_from_normal_and_place_values_in_bands():
    import numpy as np

    from grader.drivers.random_draws import measure_bands, measure_bound, measure_distribution, measure_scale
    from grader.runner.wire import Array

    rng = np.random.default_rng(0)
    uniform = Array(rng.uniform(-0.5, 0.5, size=(200, 200)).astype(np.float32), "float32", "cpu")
    normal = Array(rng.normal(0.0, 0.5, size=(200, 200)).astype(np.float32), "float32", "cpu")
    assert abs(measure_distribution(uniform, {}, None)["excess kurtosis"] + 1.2) < 0.05
    assert abs(measure_distribution(normal, {}, None)["excess kurtosis"]) < 0.1
    assert abs(measure_scale(normal, {}, None)["standard deviation"] - 0.5) < 0.01
    assert 0.499 < measure_bound(uniform, {}, None)["largest |value|"] <= 0.5
    values = Array(np.array([0.7, 0.1, 1e-6], dtype=np.float32), "float32", "cpu")
    bands = {"first": [0, 0.5, 1.0], "last": [-1, 1e-3, 1.0], "beyond": [5, 0, 1]}
    assert measure_bands(values, {"bands": bands}, None) == {
        "number of values": 3, "first": "within [0.5, 1]", "last": "below [0.001, 1]", "beyond": "missing"}


def test_reference_init_matches_torch_nn_init_statistics():
    """The reference's standard deviations equal those of torch.nn.init's own functions on the same shapes."""
    spec = importlib.util.spec_from_file_location("unit2_init", ROOT / "solutions" / UNIT / "init.py")
    init = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(init)
    torch_init = {"xavier_uniform": torch.nn.init.xavier_uniform_, "xavier_normal": torch.nn.init.xavier_normal_,
                  "he_uniform": lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu"),
                  "he_normal": lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")}
    for shape in ((300, 200), (64, 32, 3, 3)):
        for scheme, fn in torch_init.items():
            ours = init.init_weight(shape, scheme, torch.Generator().manual_seed(0))
            theirs = fn(torch.empty(shape))
            assert ours.dtype == torch.float32 and ours.shape == theirs.shape
            assert abs(ours.std() / theirs.std() - 1) < 0.05, (scheme, shape)
    with pytest.raises(ValueError):
        init.init_weight((3, 4), "orthogonal")
