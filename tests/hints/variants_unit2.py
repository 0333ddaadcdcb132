"""Unit 2 as students write it: a scalar autograd engine, layers and their backward passes, optimisers, clipping."""
from real_code import Variant


def _wrong(exercise, title, source, hint):
    return Variant("unit2", exercise, title, source, hint)


def _right(exercise, title, source):
    return Variant("unit2", exercise, title, source)


# A Value class in the "one op string, one backward function" style, with a
# slot for each piece a student gets wrong.
VALUE = '''
class Value:
    def __init__(self, data, children=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.children = children
        self.op = op

    @staticmethod
    def lift(x):
        return x if isinstance(x, Value) else Value(x)

    def __add__(self, other):
        return Value(self.data + Value.lift(other).data, (self, Value.lift(other)), "+")

    def __mul__(self, other):
        other = Value.lift(other)
        return Value(self.data * other.data, (self, other), "*")

    def __pow__(self, k):
        out = Value(self.data ** k, (self,), "**")
        out.k = k
        return out

    def exp(self):
        return Value(math.exp(self.data), (self,), "exp")

    def tanh(self):
        return Value(math.tanh(self.data), (self,), "tanh")

    def relu(self):
        return Value(max(0.0, self.data), (self,), "relu")

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-Value.lift(other))

    def __truediv__(self, other):
        return self * Value.lift(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return Value.lift(other) - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        return Value.lift(other) / self

    def _local(self):
        """Pass self.grad on to the children."""
        if self.op == "+":
            for c in self.children:
                ACCUMULATE(c, self.grad)
        elif self.op == "*":
            a, b = self.children
            ACCUMULATE(a, b.data * self.grad)
            ACCUMULATE(b, a.data * self.grad)
        elif self.op == "**":
            (a,) = self.children
            ACCUMULATE(a, self.k * a.data ** (self.k - 1) * self.grad)
        elif self.op == "exp":
            ACCUMULATE(self.children[0], self.data * self.grad)
        elif self.op == "tanh":
            ACCUMULATE(self.children[0], TANH_DERIVATIVE * self.grad)
        elif self.op == "relu":
            ACCUMULATE(self.children[0], (self.data > 0) * self.grad)

    def backward(self):
        order, seen = [], set()
        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for c in v.children:
                    visit(c)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._local()

def add_grad(node, g):
    node.grad += g

def set_grad(node, g):
    node.grad = g
'''


def _value(accumulate="add_grad", tanh="(1 - self.data ** 2)"):
    return VALUE.replace("ACCUMULATE", accumulate).replace("TANH_DERIVATIVE", tanh)


MLP_FORWARD = '''
def mlp_loss_and_grads(X, y, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    z1 = X @ W1 + b1
    h = torch.clamp(z1, min=0)
    scores = h @ W2 + b2
'''
MLP_BACKWARD = '''
    dW2 = h.T @ dscores
    db2 = dscores.sum(0)
    dh = dscores @ W2.T
    dz1 = dh * (z1 > 0)
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": dW2, "b2": db2}
'''

INIT_OK = '''
def init_weight(shape, scheme, generator=None):
    rf = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * rf, shape[0] * rf
    var = {"xavier_uniform": 2 / (fan_in + fan_out), "xavier_normal": 2 / (fan_in + fan_out),
           "he_uniform": 2 / fan_in, "he_normal": 2 / fan_in, "lecun_normal": 1 / fan_in}[scheme]
    w = torch.empty(shape)
    if scheme.endswith("uniform"):
        return w.uniform_(-math.sqrt(3 * var), math.sqrt(3 * var), generator=generator)
    return w.normal_(0.0, math.sqrt(var), generator=generator)
'''


WRONG = [
    # Value ----------------------------------------------------------------------
    _wrong("Value", "grad overwritten", _value(accumulate="set_grad"), "use `grad +=`"),
    _wrong("Value", "tanh derivative 1 - t", _value(tanh="(1 - self.data)"), "1 - tanh(x) ** 2"),
    # affine and ReLU layers -------------------------------------------------------
    _wrong("affine_backward", "db is a mean, einsum", '''
def affine_backward(dout, x, w, b):
    dx = torch.einsum("nm,dm->nd", dout, w)
    dw = torch.einsum("nd,nm->dm", x, dout)
    db = dout.mean(axis=0)
    return dx, dw, db
''', "not a mean"),
    _wrong("affine_backward", "averaged by N", '''
def affine_backward(dout, x, w, b):
    N = x.shape[0]
    dx = dout.mm(w.t())
    dw = x.t().mm(dout) / N
    db = torch.sum(dout, dim=0) / N
    return dx, dw, db
''', "do not divide dw and db by N"),
    _wrong("relu_backward", "mask with >=", '''
def relu_backward(dout, x):
    return dout * (x >= 0).type(dout.dtype)
''', "x > 0, not x >= 0"),
    _wrong("relu_backward", "mask from dout", '''
def relu_backward(dout, x):
    return torch.where(dout > 0, dout, torch.zeros_like(dout))
''', "from the layer's input x"),
    _wrong("relu_backward", "edits dout in place", '''
def relu_backward(dout, x):
    dout[x <= 0] = 0
    return dout
''', None),
    # mlp_loss_and_grads -------------------------------------------------------------
    _wrong("mlp_loss_and_grads", "no max", MLP_FORWARD + '''
    e = torch.exp(scores)
    probs = e / e.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[torch.arange(N), y]).mean()
    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dscores /= N
''' + MLP_BACKWARD, ("subtract the row max", "log-sum-exp")),   # log(probs) underflows on the milder case
    _wrong("mlp_loss_and_grads", "log of softmax", MLP_FORWARD + '''
    shifted = scores - scores.max(dim=1, keepdim=True).values
    probs = shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)
    loss = -probs[torch.arange(N), y].log().mean()
    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dscores = dscores / N
''' + MLP_BACKWARD, "log-sum-exp"),
    _wrong("mlp_loss_and_grads", "gradient not averaged", MLP_FORWARD + '''
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    loss = -log_probs[torch.arange(N), y].mean()
    dscores = log_probs.exp()
    dscores[torch.arange(N), y] -= 1
''' + MLP_BACKWARD, "divide dscores by N"),
    _wrong("mlp_loss_and_grads", "no ReLU mask, helper functions", '''
def forward_affine(x, w, b):
    return x @ w + b, (x, w)

def backward_affine(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(0)

def mlp_loss_and_grads(X, y, params):
    z1, cache1 = forward_affine(X, params["W1"], params["b1"])
    h = z1.clamp(min=0)
    scores, cache2 = forward_affine(h, params["W2"], params["b2"])
    N = X.shape[0]
    logp = scores - scores.logsumexp(1, keepdim=True)
    loss = -logp[torch.arange(N), y].mean()
    d = logp.exp()
    d[torch.arange(N), y] -= 1
    dh, dW2, db2 = backward_affine(d / N, cache2)
    _, dW1, db1 = backward_affine(dh, cache1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''', "only where the hidden pre-activation was positive"),
    # optimisers -----------------------------------------------------------------------
    _wrong("sgd_momentum_step", "classic momentum", '''
def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    v_new = beta * v + dw
    return w - lr * v_new, v_new
''', "(1 - beta)"),
    _wrong("sgd_momentum_step", "steps along dw", '''
def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    velocity = beta * v + (1 - beta) * dw
    new_w = w - lr * dw
    return new_w, velocity
''', "step along the velocity"),
    _wrong("adagrad_step", "eps outside the root", '''
def adagrad_step(w, dw, cache, lr, eps=1e-8):
    cache = cache + dw * dw
    return w - lr * dw / (cache.sqrt() + eps), cache
''', "inside the square root"),
    _wrong("rmsprop_step", "decay swapped", '''
def rmsprop_step(w, dw, cache, lr, decay=0.9, eps=1e-8):
    cache = decay * dw ** 2 + (1 - decay) * cache
    return w - lr * dw / (torch.sqrt(cache) + eps), cache
''', "decay weighs the old cache"),
    _wrong("adam_step", "no bias correction", '''
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw.pow(2)
    w = w - lr * m / (v.sqrt() + eps)
    return w, m, v
''', "correct the bias"),
    _wrong("adam_step", "t counted from 0", '''
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = t + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    mhat = m / (1 - beta1 ** t)
    vhat = v / (1 - beta2 ** t)
    return w - lr * mhat / (torch.sqrt(vhat) + eps), m, v
''', "t counts from 1"),
    _wrong("adam_step", "eps inside the root", '''
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    step = lr * (m / (1 - beta1 ** t)) / torch.sqrt(v / (1 - beta2 ** t) + eps)
    return w - step, m, v
''', "eps goes outside the square root"),
    _wrong("adam_step", "returns the corrected moments", '''
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = (beta1 * m + (1 - beta1) * dw) / (1 - beta1 ** t)
    v = (beta2 * v + (1 - beta2) * dw ** 2) / (1 - beta2 ** t)
    return w - lr * m / (v.sqrt() + eps), m, v
''', "return the running moments"),
    _wrong("lr_time_decay", "exponential decay", '''
def lr_time_decay(lr0, decay_rate, epoch):
    return lr0 * math.exp(-decay_rate * epoch)
''', "time-based decay divides"),
    # clipping -------------------------------------------------------------------------
    _wrong("clip_grad_value", "upper side only", '''
def clip_grad_value(grads, clip):
    return [torch.where(g > clip, torch.full_like(g, clip), g) for g in grads]
''', "clip both sides"),
    _wrong("clip_grad_norm", "per-tensor norms, loop", '''
def clip_grad_norm(grads, max_norm):
    out = []
    total = 0.0
    for g in grads:
        n = torch.sqrt((g ** 2).sum())
        total = total + n ** 2
        out.append(g * min(1.0, max_norm / (float(n) + 1e-6)))
    return out, torch.sqrt(total)
''', "the norm is global"),
    _wrong("clip_grad_norm", "always rescales", '''
def clip_grad_norm(grads, max_norm):
    total = torch.cat([g.flatten() for g in grads]).norm()
    return [g * (max_norm / (total + 1e-6)) for g in grads], total
''', "scale only when the total norm exceeds max_norm"),
    _wrong("clip_grad_norm", "returns the norm after clipping", '''
def clip_grad_norm(grads, max_norm):
    norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
    if norm > max_norm:
        grads = [g * max_norm / (norm + 1e-6) for g in grads]
        norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
    return grads, norm
''', "return the total norm before clipping"),
    # two bugs at once, and bugs the catalogue does not name ---------------------------
    _wrong("adam_step", "no bias correction and eps inside the root", '''
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    return w - lr * m / torch.sqrt(v + eps), m, v
''', "correct the bias"),   # where eps is too small to matter, only the first bug shows
    _wrong("sgd_momentum_step", "classic velocity, step along dw", '''
def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    v = beta * v + dw
    return w - lr * dw, v
''', ("(1 - beta)", "step along the velocity")),
    _wrong("mlp_loss_and_grads", "no ReLU mask and not averaged", MLP_FORWARD + '''
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    loss = -log_probs[torch.arange(N), y].mean()
    dscores = log_probs.exp()
    dscores[torch.arange(N), y] -= 1
    dW2 = h.T @ dscores
    db2 = dscores.sum(0)
    dz1 = dscores @ W2.T
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": dW2, "b2": db2}
''', "divide dscores by N"),
    _wrong("clip_grad_value", "clamps to [0, clip]", '''
def clip_grad_value(grads, clip):
    return [g.clamp(0, clip) for g in grads]
''', None),
    # init_weight ---------------------------------------------------------------
    _wrong("init_weight", "fans from the first two dims only", '''
def init_weight(shape, scheme, generator=None):
    fan_out, fan_in = shape[0], shape[1]
    if scheme in ("xavier_uniform", "xavier_normal"):
        std = math.sqrt(2.0 / (fan_in + fan_out))
    elif scheme in ("he_uniform", "he_normal"):
        std = math.sqrt(2.0 / fan_in)
    elif scheme == "lecun_normal":
        std = math.sqrt(1.0 / fan_in)
    else:
        raise ValueError(scheme)
    w = torch.empty(*shape)
    if "uniform" in scheme:
        bound = math.sqrt(3.0) * std
        return w.uniform_(-bound, bound, generator=generator)
    return w.normal_(0, std, generator=generator)
''', "fan_in = in * kh * kw"),
    _wrong("init_weight", "rand and randn without the generator", '''
def init_weight(shape, scheme, generator=None):
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    variances = {"xavier_uniform": 2 / (fan_in + fan_out), "xavier_normal": 2 / (fan_in + fan_out),
                 "he_uniform": 2 / fan_in, "he_normal": 2 / fan_in, "lecun_normal": 1 / fan_in}
    if scheme not in variances:
        raise ValueError("unknown scheme")
    std = variances[scheme] ** 0.5
    if scheme.endswith("uniform"):
        a = 3 ** 0.5 * std
        return (torch.rand(shape) * 2 - 1) * a
    return torch.randn(shape) * std
''', "so a seed reproduces the weights"),
    _wrong("init_weight", "uniform bound from the variance formula alone", '''
def init_weight(shape, scheme, generator=None):
    k = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * k, shape[0] * k
    if scheme == "xavier_uniform":
        a = math.sqrt(2 / (fan_in + fan_out))
        return torch.empty(shape).uniform_(-a, a, generator=generator)
    if scheme == "he_uniform":
        a = math.sqrt(2 / fan_in)
        return torch.empty(shape).uniform_(-a, a, generator=generator)
    if scheme == "xavier_normal":
        return torch.empty(shape).normal_(0, math.sqrt(2 / (fan_in + fan_out)), generator=generator)
    if scheme == "he_normal":
        return torch.empty(shape).normal_(0, math.sqrt(2 / fan_in), generator=generator)
    if scheme == "lecun_normal":
        return torch.empty(shape).normal_(0, math.sqrt(1 / fan_in), generator=generator)
    raise ValueError(scheme)
''', "sqrt(3)"),
    # activation_variance_through_depth ---------------------------------------------
    _wrong("activation_variance_through_depth", "variance of the pre-activations", INIT_OK + '''
def activation_variance_through_depth(x, depth, scheme, activation="relu", generator=None):
    acts = {"relu": torch.relu, "tanh": torch.tanh, "linear": torch.nn.Identity()}
    h = x
    result = torch.zeros(depth)
    for layer in range(depth):
        W = init_weight((x.shape[1], x.shape[1]), scheme, generator)
        z = h @ W.T
        result[layer] = z.var()
        h = acts[activation](z)
    return result
''', "after the activation"),
]

CORRECT = [
    _right("init_weight", "nested ifs and a helper for the fans", '''
def _fans(shape):
    receptive = 1
    for k in shape[2:]:
        receptive *= k
    return shape[1] * receptive, shape[0] * receptive

def init_weight(shape, scheme, generator=None):
    fan_in, fan_out = _fans(shape)
    kind, _, dist = scheme.partition("_")
    if kind == "xavier":
        var = 2.0 / (fan_in + fan_out)
    elif kind == "he":
        var = 2.0 / fan_in
    elif kind == "lecun" and dist == "normal":
        var = 1.0 / fan_in
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    w = torch.empty(shape, device=generator.device if generator is not None else "cpu")
    if dist == "uniform":
        limit = math.sqrt(3.0 * var)
        w.uniform_(-limit, limit, generator=generator)
    elif dist == "normal":
        w.normal_(mean=0.0, std=math.sqrt(var), generator=generator)
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    return w
'''),
    _right("activation_variance_through_depth", "list of floats turned into a tensor", INIT_OK + '''
def activation_variance_through_depth(x, depth, scheme, activation="relu", generator=None):
    if activation == "relu":
        g = torch.relu
    elif activation == "tanh":
        g = torch.tanh
    elif activation == "linear":
        g = lambda t: t
    else:
        raise ValueError(activation)
    n = x.shape[1]
    out = []
    for _ in range(depth):
        x = g(torch.matmul(x, init_weight((n, n), scheme, generator).t()))
        out.append(x.var().item())
    return torch.tensor(out)
'''),
    _right("Value", "op strings", _value()),
    _right("affine_backward", "einsum", '''
def affine_backward(dout, x, w, b):
    return (torch.einsum("nm,dm->nd", dout, w), torch.einsum("nd,nm->dm", x, dout),
            torch.einsum("nm->m", dout))
'''),
    _right("relu_backward", "torch.where", '''
def relu_backward(dout, x):
    return torch.where(x > 0, dout, torch.zeros_like(dout))
'''),
    _right("mlp_loss_and_grads", "layer classes", '''
class Affine:
    def __init__(self, w, b):
        self.w, self.b = w, b

    def forward(self, x):
        self.x = x
        return x @ self.w + self.b

    def backward(self, dout):
        return dout @ self.w.T, self.x.T @ dout, dout.sum(dim=0)

class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask

def mlp_loss_and_grads(X, y, params):
    fc1, relu, fc2 = Affine(params["W1"], params["b1"]), ReLU(), Affine(params["W2"], params["b2"])
    scores = fc2.forward(relu.forward(fc1.forward(X)))
    N = X.shape[0]
    m = scores.max(dim=1, keepdim=True).values
    log_probs = scores - m - torch.log(torch.exp(scores - m).sum(dim=1, keepdim=True))
    loss = -log_probs[torch.arange(N), y].mean()
    d = torch.exp(log_probs)
    d[torch.arange(N), y] -= 1
    dh, dW2, db2 = fc2.backward(d / N)
    _, dW1, db1 = fc1.backward(relu.backward(dh))
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
'''),
    _right("adam_step", "one expression", '''
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = torch.lerp(dw, m, beta1)
    v = torch.lerp(dw * dw, v, beta2)
    return w - lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps), m, v
'''),
    _right("clip_grad_norm", "flattened with torch.cat", '''
def clip_grad_norm(grads, max_norm):
    total = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * scale for g in grads], total
'''),
]
