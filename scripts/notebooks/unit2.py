"""Source of exercises/unit2/training.ipynb; `python scripts/notebooks/unit2.py` rewrites it."""
from __future__ import annotations

from pathlib import Path

from grader.notebook.build import build_notebook

NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / "unit2" / "training.ipynb"

CELLS = [
    ("markdown", r"""# Unit 2: training deep networks

Training a network means repeating two moves: compute how the loss changes when each weight moves a
little (the gradient, by **backpropagation**), then move every weight a little downhill (an
**optimiser step**). In this notebook you build both by hand: a tiny automatic-differentiation engine,
the backward passes of the layers of a two-layer network, four optimisers, a learning-rate schedule,
two kinds of gradient clipping, and the weight initialisations that keep a deep network trainable.

**How you are graded.** Each exercise ends with a check cell. It runs your code on inputs you do not
see and compares the result with PyTorch (`torch.autograd`, `torch.optim`, `torch.nn.utils`). The same
checks run from a terminal with `grader check unit2`.

Rules: work with `torch` tensors and keep the dtype and device of the inputs; never change an input in
place (`w -= lr * dw` changes the caller's tensor, `w = w - lr * dw` does not); where an exercise says
so, do not use autograd or the library function you are writing."""),
    ("code", "import math\n\nimport torch"),
    ("markdown", r"""## 1. A scalar autograd engine: `Value`

Any formula is a graph of elementary operations. If $z = f(x, y)$ is one node and $L$ is the final
output, the chain rule says how much $L$ changes through this node:

$$\frac{\partial L}{\partial x} \mathrel{+}= \frac{\partial L}{\partial z}\,\frac{\partial z}{\partial x},
\qquad \frac{\partial L}{\partial y} \mathrel{+}= \frac{\partial L}{\partial z}\,\frac{\partial z}{\partial y}.$$

The `+=` matters: when a node feeds several others (in `a * a`, or a weight used by many neurons), its
gradient is the **sum** of what flows back along every path. Two rules make the engine correct:

* each node stores its `data`, its `grad` (starting at `0.0`), the nodes it was made from, and a small
  function `_backward` that applies the local derivatives above;
* `backward()` on the output sets its `grad` to `1.0` and calls `_backward` of every node in **reverse
  topological order** (every node after all the nodes that use it), so a node's gradient is complete
  before it is passed on.

The local derivatives you need:

| operation | $z$ | $\partial z/\partial x$ | $\partial z / \partial y$ |
|---|---|---|---|
| add | $x + y$ | $1$ | $1$ |
| multiply | $x y$ | $y$ | $x$ |
| power (number $n$) | $x^n$ | $n x^{n-1}$ | |
| exp | $e^x$ | $e^x = z$ | |
| tanh | $\tanh x$ | $1 - z^2$ | |
| ReLU | $\max(0, x)$ | $1$ if $x > 0$ else $0$ | |

Subtraction, division and negation need no derivatives of their own: $x - y = x + (-y)$,
$x / y = x \cdot y^{-1}$ and $-x = x \cdot (-1)$. Numbers must work on either side (`a + 1`, `2 * a`,
`2.5 - a`, `1 / a`); Python calls `__radd__`, `__rsub__`, `__rmul__` and `__rtruediv__` when the number
is on the left. Keep `.data` and `.grad` plain Python floats. The check builds many random graphs with
your `Value` and compares every node's `data` and `grad` with `torch.autograd` on the same graph."""),
    ("code", r'''class Value:
    """A scalar node of a computation graph.

    Value(data) holds a float in .data and its gradient in .grad (0.0 until backward()).
    Supports +, -, *, / with Values or numbers on either side, ** with a number exponent,
    unary -, .exp(), .tanh(), .relu(), and .backward() on the final node.
    """

    def __init__(self, data, _children=()):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)

    def __add__(self, other):
        raise NotImplementedError("Value.__add__")

    def __mul__(self, other):
        raise NotImplementedError("Value.__mul__")

    def __pow__(self, n):
        raise NotImplementedError("Value.__pow__")

    def exp(self):
        raise NotImplementedError("Value.exp")

    def tanh(self):
        raise NotImplementedError("Value.tanh")

    def relu(self):
        raise NotImplementedError("Value.relu")

    def backward(self):
        raise NotImplementedError("Value.backward: topological order, then each node's _backward")

    # write __neg__, __sub__, __truediv__, __radd__, __rsub__, __rmul__, __rtruediv__
    # with the operations above

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"'''),
    ("code", 'from grader import check\ncheck("Value")'),
    ("markdown", r"""**Sanity check with the lecture's graph.** Take $f = (x + y)\,z$ at $x = 2$, $y = 3$, $z = -4$.
The forward pass gives $q = x + y = 5$ and $f = q z = -20$. Going back, $\partial f/\partial z = q = 5$
and $\partial f/\partial q = z = -4$. The addition passes $-4$ on unchanged to both $x$ and $y$, so
the three gradients are $-4$, $-4$ and $5$. Your `Value` must give the same numbers."""),
    ("code", r'''x, y, z = Value(2.0), Value(3.0), Value(-4.0)
q = x + y                      # 5
f = q * z                      # -20
f.backward()
print(f.data, x.grad, y.grad, z.grad)
assert (f.data, x.grad, y.grad, z.grad) == (-20.0, -4.0, -4.0, 5.0)'''),
    ("markdown", r"""## 2. The affine layer, forward and backward

A fully connected layer maps a batch $X \in \mathbb R^{N\times D}$ to $Y = XW + b$ with
$W \in \mathbb R^{D\times M}$ and $b \in \mathbb R^{M}$ (added to every row). In the backward pass we
are given $\partial L/\partial Y$ (`dout`, shape $(N, M)$) and need the gradients with respect to the
inputs of the layer:

$$\frac{\partial L}{\partial X} = \frac{\partial L}{\partial Y} W^\top, \qquad
\frac{\partial L}{\partial W} = X^\top \frac{\partial L}{\partial Y}, \qquad
\frac{\partial L}{\partial b} = \sum_{n=1}^{N} \frac{\partial L}{\partial Y_{n,:}}.$$

A quick way to remember them: each gradient has the shape of the thing it is the gradient of, and
there is only one way to multiply the available matrices to get that shape. The bias gradient is a
sum because the same $b$ was added to all $N$ rows.

The ReLU layer $h = \max(0, z)$ lets the gradient through where its input was positive and stops it
elsewhere (also where $z = 0$ exactly): $\partial L / \partial z = \partial L/\partial h \odot [z > 0]$.

Do not use autograd (`.backward()`, `torch.autograd.grad`) in the backward functions."""),
    ("code", r'''def affine_forward(x, w, b):
    """x: (N, D), w: (D, M), b: (M,). Returns x @ w + b, shape (N, M)."""
    raise NotImplementedError("affine_forward")'''),
    ("code", 'check("affine_forward")'),
    ("code", r'''def affine_backward(dout, x, w, b):
    """dout: (N, M) upstream gradient; x, w, b as in affine_forward.
    Returns (dx, dw, db) with the shapes of x (N, D), w (D, M) and b (M,).
    """
    raise NotImplementedError("affine_backward")'''),
    ("code", 'check("affine_backward")'),
    ("code", r'''def relu_backward(dout, x):
    """dout: upstream gradient, x: the ReLU's input, same shape. Returns dx, same shape."""
    raise NotImplementedError("relu_backward")'''),
    ("code", 'check("relu_backward")'),
    ("markdown", r"""## 3. A two-layer network, end to end

Put the pieces together: scores $= \mathrm{ReLU}(X W_1 + b_1) W_2 + b_2$ and the mean softmax
cross-entropy

$$L = \frac{1}{N}\sum_{n=1}^{N} -\log \frac{e^{s_{n, y_n}}}{\sum_c e^{s_{n,c}}}.$$

Its gradient with respect to the scores is the softmax minus one at the correct class, divided by $N$
because the loss is a mean: $\partial L/\partial s_{n,c} = (p_{n,c} - [c = y_n]) / N$. From there, run
the backward passes of section 2 in the opposite order of the forward pass: affine 2, ReLU, affine 1.
Subtract each row's maximum score before `exp` so that large scores do not overflow."""),
    ("code", r'''def mlp_loss_and_grads(X, y, params):
    """Two-layer ReLU network with softmax cross-entropy.

    X: (N, D), y: (N,) class indices (int64),
    params: {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}.
    Returns (loss, grads): loss a 0-d tensor (the mean over the batch), grads a dict with the
    same keys and shapes as params. Backpropagate by hand, without autograd.
    """
    raise NotImplementedError("mlp_loss_and_grads")'''),
    ("code", 'check("mlp_loss_and_grads")'),
    ("markdown", r"""## 4. Optimisers

Plain gradient descent, $w \leftarrow w - \eta\, \nabla_w L$, uses one learning rate for every weight and
forgets the past. The optimisers below change one or the other. Each function does **one** step and
returns new tensors: the weights and the optimiser's state, which the training loop passes back in
at the next step. The checks run 10 to 30 steps and compare the whole trajectory with `torch.optim`
(AdaGrad's with the course's reference, see below).

**Momentum** keeps a velocity, an exponentially weighted average of past gradients, and steps along it
(this is the lecture's form, with $v = 0$ before the first step):

$$v \leftarrow \beta v + (1-\beta)\, g, \qquad w \leftarrow w - \eta\, v.$$

`torch.optim.SGD(momentum=beta, dampening=beta)` follows this rule only when its momentum buffer
starts at zero, and the checks set it that way. Left to itself, PyTorch fills the buffer on the first
step with the undamped gradient $g$ instead of $(1-\beta)\,g$, so its first step is $1/(1-\beta)$ times
longer (ten times for $\beta = 0.9$). The quiz uses PyTorch's undamped form, $v \leftarrow \mu v + g$
from $v = 0$. Its velocity is the one above divided by $1-\beta$, so it takes the same steps when its
learning rate is $\eta\,(1-\beta)$.

A note on weight decay: `weight_decay=λ` in `torch.optim` adds $\lambda w$ to the gradient, which is
the gradient of the penalty $\tfrac{\lambda}{2} w^2$ used in the Unit 3 quiz. Unit 3's `l2_penalty` is
$\lambda \sum w^2$ without the $\tfrac12$, so with the same $\lambda$ its gradient $2\lambda w$ shrinks the weights twice as fast.

**AdaGrad** gives each weight its own step size, shrinking it for weights whose gradients have been
large. The cache is the running **sum** of squared gradients, and $\epsilon$ sits inside the root:

$$c \leftarrow c + g^2, \qquad w \leftarrow w - \eta\, \frac{g}{\sqrt{c + \epsilon}}.$$

This exercise is *not* compared with `torch.optim.Adagrad`, which adds $\epsilon$ outside the root,
$g / (\sqrt{c} + \epsilon)$. The two differ most while $c$ is still small, so the checks use the course's
own reference.

**RMSProp** replaces AdaGrad's ever-growing sum by an exponential average, so old gradients are
forgotten and the step size does not shrink to nothing (here, as in `torch.optim.RMSprop`, $\epsilon$
is added after the root):

$$c \leftarrow \rho\, c + (1-\rho)\, g^2, \qquad w \leftarrow w - \eta\, \frac{g}{\sqrt{c} + \epsilon}.$$

**Adam** combines a momentum-like first moment $m$ with an RMSProp-like second moment $v$. Both start at
zero, so early on they are biased towards zero; dividing by $1 - \beta^t$ undoes that ($t$ is the
step number, **starting at 1**):

$$m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
\hat m = \frac{m}{1-\beta_1^t}, \quad \hat v = \frac{v}{1-\beta_2^t}, \quad
w \leftarrow w - \eta\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}.$$

Return the running moments $m$ and $v$ (not $\hat m$, $\hat v$): they are the state for the next step.
Do not use `torch.optim` inside these functions."""),
    ("code", r'''def sgd_momentum_step(w, dw, v, lr, beta=0.9):
    """w, dw, v: tensors of the same shape. Returns (w_new, v_new)."""
    raise NotImplementedError("sgd_momentum_step")'''),
    ("code", 'check("sgd_momentum_step")'),
    ("code", r'''def adagrad_step(w, dw, cache, lr, eps=1e-8):
    """w, dw, cache: tensors of the same shape. Returns (w_new, cache_new)."""
    raise NotImplementedError("adagrad_step")'''),
    ("code", 'check("adagrad_step")'),
    ("code", r'''def rmsprop_step(w, dw, cache, lr, decay=0.9, eps=1e-8):
    """w, dw, cache: tensors of the same shape. Returns (w_new, cache_new)."""
    raise NotImplementedError("rmsprop_step")'''),
    ("code", 'check("rmsprop_step")'),
    ("code", r'''def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """w, dw, m, v: tensors of the same shape; t: the step number, 1 for the first step.
    Returns (w_new, m_new, v_new).
    """
    raise NotImplementedError("adam_step")'''),
    ("code", 'check("adam_step")'),
    ("markdown", r"""## 5. Learning-rate decay and gradient clipping

Large steps help early in training and hurt near a minimum, so the learning rate is often lowered as
training goes on. **Time-based decay** divides the initial rate by a factor that grows linearly with
the epoch:

$$\eta_{e} = \frac{\eta_0}{1 + k\, e}.$$

**Gradient clipping** protects against exploding gradients. *By value* clamps every entry into
$[-\tau, \tau]$. *By norm* looks at all gradients together as one long vector $g$ with
$\|g\|_2 = \sqrt{\sum_i \sum_j g_{ij}^2}$ (one norm over every tensor, not a norm per tensor) and,
when it is larger than the limit, scales every tensor by the same factor so that the direction is
kept:

$$s = \min\!\left(1, \frac{\text{max\_norm}}{\|g\|_2 + 10^{-6}}\right), \qquad g_i \leftarrow s\, g_i.$$

The $10^{-6}$ is what `torch.nn.utils.clip_grad_norm_` adds. Return new tensors (PyTorch's functions
change the gradients in place; yours must not) and, for the norm version, the norm before clipping."""),
    ("code", r'''def lr_time_decay(lr0, decay_rate, epoch):
    """lr0, decay_rate: floats, epoch: int (0 for the first epoch). Returns the learning rate, a float."""
    raise NotImplementedError("lr_time_decay")'''),
    ("code", 'check("lr_time_decay")'),
    ("code", r'''def clip_grad_value(grads, clip):
    """grads: a list of tensors of any shapes; clip: a positive float.
    Returns a new list with every entry clamped into [-clip, clip].
    """
    raise NotImplementedError("clip_grad_value")'''),
    ("code", 'check("clip_grad_value")'),
    ("code", r'''def clip_grad_norm(grads, max_norm):
    """grads: a list of tensors; max_norm: a positive float.
    Returns (clipped, total_norm): the rescaled list and the global L2 norm before clipping (0-d tensor).
    """
    raise NotImplementedError("clip_grad_norm")'''),
    ("code", 'check("clip_grad_norm")'),
    ("markdown", r"""## 6. Weight initialisation

Every layer multiplies its input by a weight matrix. If the weights are too small, the activations
shrink a little at every layer. If they are too large, the activations grow at every layer. After
tens of layers they have vanished or exploded, and the gradients with them, because the backward pass
multiplies by the same matrices. A good initialisation chooses the variance of the weights so that
the variance of the signal stays about the same from layer to layer.

A unit adds up $n_\text{in}$ products $w_j x_j$. With independent, zero-mean weights and inputs, the
variance of the sum is $n_\text{in}\,\mathrm{Var}(w)\,\mathrm{Var}(x)$, so $\mathrm{Var}(w) = 1/n_\text{in}$ keeps it.
The **fans** count these connections. For a linear weight of shape `(out, in)`, `fan_in = in` and
`fan_out = out`. For a convolution weight `(out, in, kh, kw)`, each output sees `in * kh * kw`
inputs, so `fan_in = in * kh * kw` and `fan_out = out * kh * kw`. This is how `torch.nn.init`
counts fans, and the checks compare with that rule.

| scheme | variance of $w$ | distribution | made for |
|---|---|---|---|
| `xavier_uniform` (Glorot) | $2 / (\text{fan\_in} + \text{fan\_out})$ | $U(-a, a)$ | tanh, sigmoid |
| `xavier_normal` | $2 / (\text{fan\_in} + \text{fan\_out})$ | $N(0, \sigma^2)$ | tanh, sigmoid |
| `he_uniform` (Kaiming) | $2 / \text{fan\_in}$ | $U(-a, a)$ | ReLU |
| `he_normal` | $2 / \text{fan\_in}$ | $N(0, \sigma^2)$ | ReLU |
| `lecun_normal` | $1 / \text{fan\_in}$ | $N(0, \sigma^2)$ | SELU, and linear or tanh units |

Xavier averages the forward condition ($1/\text{fan\_in}$) and the backward one ($1/\text{fan\_out}$).
He doubles LeCun's variance because ReLU sets half of its inputs to zero and so halves the second
moment of the signal. The uniform distribution $U(-a, a)$ has variance $a^2/3$, so the bound for a
variance $\sigma^2$ is $a = \sqrt{3}\,\sigma$.

Write `init_weight(shape, scheme, generator=None)`. It returns a new `float32` tensor of that shape,
drawn with `Tensor.uniform_` or `Tensor.normal_` and passing `generator=generator` to them, so that a
seeded `torch.Generator` gives the same weights every time. Put it on the generator's device (the CPU
when there is none). Raise `ValueError` for an unknown scheme. Do not use `torch.nn.init`.

The checks draw large weights and compare statistics with bounds stated in each check's name: the
standard deviation within 3% of the scheme's, the mean near zero, the excess kurtosis near
$-1.2$ (uniform) or $0$ (normal), and for the uniform schemes a largest $|w|$ within 0.2% of $a$.
A correct draw fails them with a probability far below one in a billion. Another check draws twice
with the same seed."""),
    ("code", r'''def init_weight(shape, scheme, generator=None):
    """A new float32 weight of this shape, drawn with the scheme's variance.

    shape: (out, in) or (out, in, kh, kw); scheme: "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal" or "lecun_normal"; generator: a torch.Generator or None.
    """
    raise NotImplementedError("init_weight")'''),
    ("code", 'check("init_weight")'),
    ("markdown", r"""## 7. Activations through depth

Now watch what the initialisation does to a deep network. Push a batch $x$ of shape `(N, width)`
through `depth` square layers without biases, $h \leftarrow g(h W^\top)$, each with a fresh weight
`init_weight((width, width), scheme, generator)`, and record the variance of $h$ (over all its
entries, `h.var()`) after every layer. Return the `depth` variances as a 1-d tensor. The
activation `g` is `"relu"`, `"tanh"` or `"linear"` (no activation); raise `ValueError` for
any other.

What to expect for inputs of variance 1 and width 256:

* ReLU with `he_normal`: the variance stays near $1 - 1/\pi \approx 0.68$ at every depth, give or
  take a factor of about 2 at this width;
* ReLU with `xavier_normal` (here $\text{fan\_in} = \text{fan\_out}$, so LeCun's variance): each layer
  halves the second moment, and after 16 layers the variance is about $0.34 \cdot 2^{-15} \approx 10^{-5}$.
  The activations **vanish**;
* no activation with `he_uniform`: each layer doubles the variance, about $2^{16} \approx 65{,}000$ after
  16 layers. The activations **explode**;
* no activation with `xavier_uniform`: the variance stays close to 1;
* tanh with `lecun_normal`: tanh flattens large inputs, so the variance starts near 0.4 and then shrinks
  slowly, to a few hundredths after 16 layers. That is nothing like the factor of 2 per layer above.

At a finite width the variance also wanders from layer to layer, so the check asks for the
variance after the first layer and after the last one to lie within a band around these predictions
(a factor 1.5 after the first layer, a factor 16 after the last)."""),
    ("code", r'''def activation_variance_through_depth(x, depth, scheme, activation="relu", generator=None):
    """x: (N, width) inputs; depth: the number of layers; scheme: as in init_weight;
    activation: "relu", "tanh" or "linear"; generator: passed on to init_weight.
    Returns a (depth,) tensor: the variance of the activations after each layer.
    """
    raise NotImplementedError("activation_variance_through_depth")'''),
    ("code", 'check("activation_variance_through_depth")'),
    ("code", r'''# Try it yourself (not graded): vanishing and exploding activations.
def show_depth(depth=16, width=256):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(128, width, generator=generator)
    for scheme, activation in [("he_normal", "relu"), ("xavier_normal", "relu"),
                               ("he_uniform", "linear"), ("xavier_uniform", "linear"), ("lecun_normal", "tanh")]:
        v = activation_variance_through_depth(x, depth, scheme, activation, generator)
        print(f"{scheme:15s} {activation:7s} layer 1: {v[0]:.3g}   layer {depth}: {v[-1]:.3g}")

# show_depth()'''),
]


def render() -> str:
    """The notebook as JSON text."""
    return build_notebook(CELLS)


if __name__ == "__main__":
    NOTEBOOK.write_text(render(), encoding="utf-8")
