"""Typical wrong implementations for Unit 2, each recognised by the checks with a hint."""
import math

import torch

from .init import ACTIVATIONS, SCHEMES, fans, init_weight
from .layers import affine_backward, affine_forward, relu_backward


# Value -----------------------------------------------------------------------
def _engine(bug):
    """A scalar autograd engine with one typical bug (named by `bug`)."""

    class Value:
        def __init__(self, data, _children=()):
            self.data = float(data)
            self.grad = 0.0
            self._backward = lambda: None
            self._prev = list(_children)

        def _wrap(self, other):
            return other if isinstance(other, Value) else Value(other)

        def __add__(self, other):
            other = self._wrap(other)
            out = Value(self.data + other.data, (self, other))

            def _backward():
                if bug == "overwrite":
                    self.grad = out.grad
                    other.grad = out.grad
                else:
                    self.grad += out.grad
                    other.grad += out.grad
            out._backward = _backward
            return out

        def __mul__(self, other):
            other = self._wrap(other)
            out = Value(self.data * other.data, (self, other))

            def _backward():
                if bug == "overwrite":
                    self.grad = other.data * out.grad
                    other.grad = self.data * out.grad
                elif bug == "no_upstream":
                    self.grad += other.data
                    other.grad += self.data
                else:
                    self.grad += other.data * out.grad
                    other.grad += self.data * out.grad
            out._backward = _backward
            return out

        def __pow__(self, n):
            out = Value(self.data ** n, (self,))

            def _backward():
                power = n if bug == "pow" else n - 1
                self.grad += n * self.data ** power * out.grad
            out._backward = _backward
            return out

        def exp(self):
            out = Value(math.exp(self.data), (self,))

            def _backward():
                self.grad += (self.data if bug == "exp" else out.data) * out.grad
            out._backward = _backward
            return out

        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,))

            def _backward():
                self.grad += ((1 - t) if bug == "tanh" else (1 - t ** 2)) * out.grad
            out._backward = _backward
            return out

        def relu(self):
            out = Value(max(self.data, 0.0), (self,))

            def _backward():
                self.grad += (1.0 if bug == "relu" or self.data > 0 else 0.0) * out.grad
            out._backward = _backward
            return out

        def backward(self):
            self.grad = 1.0
            if bug == "no_topo":
                def go(node):
                    node._backward()
                    for child in node._prev:
                        go(child)
                go(self)
                return
            order, seen = [], set()

            def visit(node):
                if node not in seen:
                    seen.add(node)
                    for child in node._prev:
                        visit(child)
                    order.append(node)
            visit(self)
            for node in reversed(order):
                node._backward()

        def __neg__(self):
            return self * -1

        def __sub__(self, other):
            return self + (-other)

        def __truediv__(self, other):
            return self * other ** -1

        def __radd__(self, other):
            return self + other

        def __rsub__(self, other):
            return self - other if bug == "rsub" else other + (-self)

        def __rmul__(self, other):
            return self * other

        def __rtruediv__(self, other):
            return self / other if bug == "rdiv" else other * self ** -1

    return Value


ValueOverwritesGrad = _engine("overwrite")
ValueNoUpstream = _engine("no_upstream")
ValueNoTopologicalOrder = _engine("no_topo")
ValuePowDerivative = _engine("pow")
ValueExpDerivative = _engine("exp")
ValueTanhDerivative = _engine("tanh")
ValueReluAlwaysOpen = _engine("relu")
ValueRsubReversed = _engine("rsub")
ValueRdivReversed = _engine("rdiv")


# affine_forward, affine_backward, relu_backward -----------------------------
def affine_no_bias(x, w, b):
    return x @ w


def affine_with_relu(x, w, b):
    return (x @ w + b).clamp(min=0)


def affine_backward_db_mean(dout, x, w, b):
    dx, dw, db = affine_backward(dout, x, w, b)
    return dx, dw, dout.mean(dim=0)


def affine_backward_averaged(dout, x, w, b):
    N = x.shape[0]
    return dout @ w.T, x.T @ dout / N, dout.sum(dim=0) / N


def affine_backward_no_dx_transpose(dout, x, w, b):
    return dout @ w, x.T @ dout, dout.sum(dim=0)


def relu_backward_ge(dout, x):
    return dout * (x >= 0).to(dout.dtype)


def relu_backward_mask_only(dout, x):
    return (x > 0).to(dout.dtype)


def relu_backward_mask_from_dout(dout, x):
    return dout * (dout > 0).to(dout.dtype)


# mlp_loss_and_grads ----------------------------------------------------------
def _mlp_parts(X, y, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = affine_forward(X, W1, b1)
    h = z1.clamp(min=0)
    scores = affine_forward(h, W2, b2)
    p = torch.softmax(scores, dim=1)
    rows = torch.arange(X.shape[0], device=X.device)
    log_p = scores - scores.logsumexp(dim=1, keepdim=True)    # one bug at a time: the loss stays stable
    loss = -log_p[rows, y].mean()
    return W1, b1, W2, b2, z1, h, p, rows, loss


def _mlp_backward(X, W1, b1, W2, b2, z1, h, dscores, mask=True):
    dh, dW2, db2 = affine_backward(dscores, h, W2, b2)
    dz1 = relu_backward(dh, z1) if mask else dh
    _, dW1, db1 = affine_backward(dz1, X, W1, b1)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def mlp_grads_summed(X, y, params):
    W1, b1, W2, b2, z1, h, p, rows, loss = _mlp_parts(X, y, params)
    dscores = p.clone()
    dscores[rows, y] -= 1
    return loss, _mlp_backward(X, W1, b1, W2, b2, z1, h, dscores)


def mlp_no_relu_mask(X, y, params):
    W1, b1, W2, b2, z1, h, p, rows, loss = _mlp_parts(X, y, params)
    dscores = p.clone()
    dscores[rows, y] -= 1
    return loss, _mlp_backward(X, W1, b1, W2, b2, z1, h, dscores / X.shape[0], mask=False)


def mlp_grads_averaged_twice(X, y, params):
    W1, b1, W2, b2, z1, h, p, rows, loss = _mlp_parts(X, y, params)
    dscores = p.clone()
    dscores[rows, y] -= 1
    return loss, _mlp_backward(X, W1, b1, W2, b2, z1, h, dscores / X.shape[0] / X.shape[0])


def mlp_no_correct_class(X, y, params):
    W1, b1, W2, b2, z1, h, p, rows, loss = _mlp_parts(X, y, params)
    return loss, _mlp_backward(X, W1, b1, W2, b2, z1, h, p / X.shape[0])


# optimisers ------------------------------------------------------------------
def momentum_classic(w, dw, v, lr, beta=0.9):
    v = beta * v + dw
    return w - lr * v, v


def momentum_plain_gradient(w, dw, v, lr, beta=0.9):
    v = beta * v + (1 - beta) * dw
    return w - lr * dw, v


def momentum_velocity_with_lr(w, dw, v, lr, beta=0.9):
    v = beta * v - lr * dw
    return w + v, v


def adagrad_no_sum(w, dw, cache, lr, eps=1e-8):
    cache = dw ** 2
    return w - lr * dw / torch.sqrt(cache + eps), cache


def adagrad_eps_outside(w, dw, cache, lr, eps=1e-8):
    cache = cache + dw ** 2
    return w - lr * dw / (torch.sqrt(cache) + eps), cache


def adagrad_no_sqrt(w, dw, cache, lr, eps=1e-8):
    cache = cache + dw ** 2
    return w - lr * dw / (cache + eps), cache


def rmsprop_decay_swapped(w, dw, cache, lr, decay=0.9, eps=1e-8):
    cache = (1 - decay) * cache + decay * dw ** 2
    return w - lr * dw / (torch.sqrt(cache) + eps), cache


def rmsprop_eps_inside(w, dw, cache, lr, decay=0.9, eps=1e-8):
    cache = decay * cache + (1 - decay) * dw ** 2
    return w - lr * dw / torch.sqrt(cache + eps), cache


def rmsprop_like_adagrad(w, dw, cache, lr, decay=0.9, eps=1e-8):
    cache = cache + dw ** 2
    return w - lr * dw / (torch.sqrt(cache) + eps), cache


def _moments(dw, m, v, beta1, beta2):
    return beta1 * m + (1 - beta1) * dw, beta2 * v + (1 - beta2) * dw ** 2


def adam_no_bias_correction(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _moments(dw, m, v, beta1, beta2)
    return w - lr * m / (torch.sqrt(v) + eps), m, v


def adam_t_from_zero(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _moments(dw, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** (t + 1)), v / (1 - beta2 ** (t + 1))
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


def adam_eps_inside(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _moments(dw, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return w - lr * m_hat / torch.sqrt(v_hat + eps), m, v


def adam_returns_corrected(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = _moments(dw, m, v, beta1, beta2)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m_hat, v_hat


# schedules and clipping ------------------------------------------------------
def lr_exponential(lr0, decay_rate, epoch):
    return lr0 * math.exp(-decay_rate * epoch)


def lr_power(lr0, decay_rate, epoch):
    return lr0 / (1 + decay_rate) ** epoch


def lr_step_once(lr0, decay_rate, epoch):
    return lr0 / (1 + decay_rate)


def clip_value_upper_only(grads, clip):
    return [g.clamp(max=clip) for g in grads]


def clip_value_by_norm(grads, clip):
    return [g * min(1.0, clip / (float(g.norm()) + 1e-6)) for g in grads]


def clip_norm_per_tensor(grads, max_norm):
    norms = [g.norm() for g in grads]
    clipped = [g * (max_norm / (n + 1e-6)).clamp(max=1.0) for g, n in zip(grads, norms)]
    return clipped, torch.sqrt(sum(n ** 2 for n in norms))


def clip_norm_always_scales(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * max_norm / (total + 1e-6) for g in grads], total


def clip_norm_sum_of_norms(grads, max_norm):
    total = sum(g.norm() for g in grads)
    return [g * (max_norm / (total + 1e-6)).clamp(max=1.0) for g in grads], total


def clip_norm_no_epsilon(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * (max_norm / total).clamp(max=1.0) for g in grads], total


def clip_norm_returns_new_norm(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    clipped = [g * (max_norm / (total + 1e-6)).clamp(max=1.0) for g in grads]
    return clipped, torch.sqrt(sum((g ** 2).sum() for g in clipped))


# init_weight -------------------------------------------------------------------
def _draw(shape, std, uniform, generator, dtype=torch.float32):
    w = torch.empty(tuple(shape), dtype=dtype, device=generator.device if generator is not None else None)
    if uniform:
        return w.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator=generator)
    return w.normal_(0.0, std, generator=generator)


def _wrong_init(shape, scheme, generator, fan_rule=fans, variance=None, bound_is_std=False, std_is_variance=False,
                dtype=torch.float32, use_generator=True):
    if scheme not in SCHEMES or len(shape) < 2:
        raise ValueError(scheme)
    distribution, right_variance = SCHEMES[scheme]
    fan_in, fan_out = fan_rule(tuple(shape))
    var = (variance or right_variance)(fan_in, fan_out)
    std = var if std_is_variance else math.sqrt(var)
    uniform = distribution == "uniform"
    if bound_is_std and uniform:
        std = std / math.sqrt(3.0)
    return _draw(shape, std, uniform, generator if use_generator else None, dtype)


def init_no_receptive_field(shape, scheme, generator=None):
    return _wrong_init(shape, scheme, generator, fan_rule=lambda s: (s[1], s[0]))


def init_fans_swapped(shape, scheme, generator=None):
    return _wrong_init(shape, scheme, generator, fan_rule=lambda s: fans(s)[::-1])


def init_bound_is_std(shape, scheme, generator=None):
    return _wrong_init(shape, scheme, generator, bound_is_std=True)


def init_variance_as_std(shape, scheme, generator=None):
    return _wrong_init(shape, scheme, generator, std_is_variance=True)


def init_he_without_two(shape, scheme, generator=None):
    halved = (lambda fi, fo: 1.0 / fi) if scheme.startswith("he") else SCHEMES.get(scheme, (None, None))[1]
    return _wrong_init(shape, scheme, generator, variance=halved)


def init_ignores_generator(shape, scheme, generator=None):
    return _wrong_init(shape, scheme, generator, use_generator=False).to(
        generator.device if generator is not None else "cpu")


def init_float64(shape, scheme, generator=None):
    return _wrong_init(shape, scheme, generator, dtype=torch.float64)


# activation_variance_through_depth ----------------------------------------------
def _depth_run(x, depth, scheme, activation, generator, weight_of, record_pre=False, include_input=False):
    g, h = ACTIVATIONS[activation], x
    out = [x.var()] if include_input else []
    for _ in range(depth):
        z = h @ weight_of(x.shape[1]).to(x.device, x.dtype).T
        h = g(z)
        out.append((z if record_pre else h).var())
    return torch.stack(out)


def _init_of(scheme, generator):
    return lambda width: init_weight((width, width), scheme, generator)


def depth_before_activation(x, depth, scheme, activation="relu", generator=None):
    return _depth_run(x, depth, scheme, activation, generator, _init_of(scheme, generator), record_pre=True)


def depth_unit_weights(x, depth, scheme, activation="relu", generator=None):
    return _depth_run(x, depth, scheme, activation, generator,
                      lambda width: torch.randn(width, width, generator=generator, device=x.device))


def depth_includes_input(x, depth, scheme, activation="relu", generator=None):
    return _depth_run(x, depth, scheme, activation, generator, _init_of(scheme, generator), include_input=True)
