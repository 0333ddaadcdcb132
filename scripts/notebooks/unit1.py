"""Source of exercises/unit1/shallow_networks.ipynb; `python scripts/notebooks/unit1.py` rewrites it."""
from __future__ import annotations

from pathlib import Path

from grader.notebook.build import build_notebook

NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / "unit1" / "shallow_networks.ipynb"

CELLS = [
("markdown", r"""
# Unit 1 — Shallow networks

A shallow network has one layer of weights between its input and its output.
In this notebook you will write, with plain tensor operations, the pieces that
every deeper network is built from: a single neuron, two classic learning
rules, and the two losses used for classification.

**How you are graded.** Each exercise ends with a check cell. It runs your
function on inputs you do not see (several shapes, `float32` and `float64`,
and a few edge cases) and compares the result with a reference. You can run
the same checks from a terminal with `grader check unit1`.

Rules for every exercise:
* work with `torch` tensors and keep the dtype and device of the inputs;
* never modify an input in place (`z -= m` changes the caller's tensor);
* where an exercise says so, do not call the library function you are writing.
"""),
("code", r"""
import torch
"""),
("markdown", r"""
## 1. The perceptron's forward pass

A neuron computes a weighted sum of its inputs plus a bias and passes it
through an activation function $g$:

$$ \hat y = g(z), \qquad z = \mathbf{x}\cdot\mathbf{w} + b = \sum_{d=1}^{D} x_d w_d + b. $$

For a batch $X \in \mathbb{R}^{N\times D}$ all $N$ sums come from one matrix
product, $\mathbf z = X\mathbf w + b$. The activations to support:

| name | $g(z)$ |
|---|---|
| `sigmoid` | $\sigma(z) = 1 / (1 + e^{-z})$ |
| `tanh` | $\tanh z$ |
| `relu` | $\max(0, z)$ |
| `step` | $1$ if $z > 0$, else $0$ (Rosenblatt's original threshold unit) |

The step must return numbers in the dtype of $z$, not booleans. An unknown
activation name is a programming error: raise `ValueError`.
"""),
("code", r'''
def perceptron_forward(x, w, b, activation="sigmoid"):
    """Forward pass of a single neuron.

    x: (N, D) batch or (D,) single sample
    w: (D,) weights
    b: bias, a 0-d tensor or a Python float
    activation: "sigmoid", "tanh", "relu" or "step"
    returns: (N,) for a batch, () for a single sample, in x's dtype
    """
    raise NotImplementedError("write perceptron_forward")
'''),
("code", r"""
from grader import check
check("perceptron_forward")
"""),
("markdown", r"""
## 2. The delta rule (Widrow–Hoff)

A linear unit predicts $\hat y = \mathbf x\cdot\mathbf w$. For one sample with
target $t$, the squared error $E = \tfrac12 (t - \hat y)^2$ has gradient
$\partial E/\partial \mathbf w = -(t - \hat y)\,\mathbf x$, so a gradient step
with learning rate $\eta$ is

$$ \mathbf w \leftarrow \mathbf w + \eta\,(t - \mathbf x\cdot\mathbf w)\,\mathbf x. $$

The weights move towards inputs whose prediction was too low and away from
those whose prediction was too high, in proportion to the error.
"""),
("code", r'''
def delta_rule_update(w, x, target, lr):
    """One Widrow-Hoff update for a single sample.

    w: (D,) weights, x: (D,) input, target: float or 0-d tensor, lr: float
    returns: the new weights, shape (D,) (do not change w in place)
    """
    raise NotImplementedError("write delta_rule_update")
'''),
("code", r"""
check("delta_rule_update")
"""),
("markdown", r"""
## 3. One step of logistic regression

Logistic regression is a perceptron with a sigmoid output read as a
probability, $p_i = \sigma(\mathbf x_i\cdot\mathbf w + b)$, trained on the mean
binary cross-entropy

$$ L = -\frac1N \sum_{i=1}^{N} \big[ y_i \log p_i + (1 - y_i)\log(1 - p_i) \big]. $$

The sigmoid and the logarithm cancel nicely in the derivative:
$\partial L / \partial z_i = (p_i - y_i)/N$, hence

$$ \nabla_{\mathbf w} L = X^\top (\mathbf p - \mathbf y)/N, \qquad \frac{\partial L}{\partial b} = \frac1N\sum_i (p_i - y_i). $$

Return the updated `w` and `b` after one step of gradient descent, and the
loss computed **before** the update. Compute the gradient yourself (no
`backward()`). For a loss that stays finite for large $|z|$, note that
$-\log \sigma(z) = \operatorname{softplus}(-z)$.
"""),
("code", r'''
def logistic_regression_step(w, b, X, y, lr):
    """One gradient-descent step on the mean binary cross-entropy.

    w: (D,), b: 0-d tensor, X: (N, D), y: (N,) of 0.0 / 1.0, lr: float
    returns: (w_new (D,), b_new (), loss ()) with loss measured before the step
    """
    raise NotImplementedError("write logistic_regression_step")
'''),
("code", r"""
check("logistic_regression_step")
"""),
("markdown", r"""
## 4. A numerically stable softmax

Softmax turns a vector of scores into probabilities:
$\operatorname{softmax}(\mathbf z)_k = e^{z_k} / \sum_j e^{z_j}$.

Computed literally it breaks: in `float32`, $e^{89}$ is already infinite, and
`inf / inf` is `nan`. Softmax does not change when the same constant is
subtracted from every score, so subtract the largest one first:

$$ \operatorname{softmax}(\mathbf z)_k = \frac{e^{z_k - m}}{\sum_j e^{z_j - m}}, \qquad m = \max_j z_j. $$

Now every exponent is at most $0$. Your function must work along any `dim`
of a tensor with any number of dimensions. Do not call `torch.softmax`,
`F.softmax`, `Tensor.softmax` or their `log_softmax` relatives.
"""),
("code", r'''
def softmax(z, dim=-1):
    """Softmax of z along dim.

    z: a tensor of any shape; dim: the axis that sums to one
    returns: a tensor of z's shape and dtype
    """
    raise NotImplementedError("write softmax")
'''),
("code", r"""
check("softmax")
"""),
("markdown", r"""
## 5. Softmax cross-entropy and its gradient

For scores $S \in \mathbb R^{N\times C}$ and integer labels $y_i$, the loss is
the mean negative log-probability of the correct class,

$$ L = -\frac1N \sum_{i} \log \operatorname{softmax}(\mathbf s_i)_{y_i}. $$

Its gradient has a famously simple form: with $P = \operatorname{softmax}(S)$
row by row and $Y$ the one-hot matrix of the labels,

$$ \frac{\partial L}{\partial S} = \frac{P - Y}{N}. $$

Return both the loss and this gradient. Compute the log-probabilities stably
($\log\operatorname{softmax}(\mathbf s)_k = s_k - m - \log\sum_j e^{s_j - m}$).
Do not use `F.cross_entropy`, `F.nll_loss`, any softmax shortcut, or autograd.
"""),
("code", r'''
def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy and its gradient.

    scores: (N, C) float tensor, y: (N,) int64 labels in [0, C)
    returns: (loss, dscores) with loss a 0-d tensor and dscores of shape (N, C)
    """
    raise NotImplementedError("write softmax_cross_entropy")
'''),
("code", r"""
check("softmax_cross_entropy")
"""),
("markdown", r"""
## 6. The multiclass hinge loss

The multiclass SVM (Weston–Watkins) wants the correct class's score to beat
every other score by at least a margin $\Delta$:

$$ L = \frac1N \sum_i \sum_{j \ne y_i} \max\big(0,\; s_{ij} - s_{iy_i} + \Delta\big). $$

A term is *active* when it is positive. Each active term adds $+1/N$ to the
gradient of $s_{ij}$ and $-1/N$ to that of the correct score $s_{iy_i}$, so

$$ \frac{\partial L}{\partial s_{ij}} = \frac{[\text{term } j \text{ active}]}{N} \;(j\ne y_i), \qquad
\frac{\partial L}{\partial s_{iy_i}} = -\frac{\#\{\text{active terms in row } i\}}{N}. $$

Note the sum skips $j = y_i$; that term would always equal $\Delta$.
"""),
("code", r'''
def multiclass_hinge_loss(scores, y, margin=1.0):
    """Weston-Watkins multiclass hinge loss and its subgradient.

    scores: (N, C) float tensor, y: (N,) int64 labels, margin: float
    returns: (loss, dscores) with loss a 0-d tensor and dscores of shape (N, C)
    """
    raise NotImplementedError("write multiclass_hinge_loss")
'''),
("code", r"""
check("multiclass_hinge_loss")
"""),
("markdown", r"""
## Done?

Run every check at once from a terminal in the course folder:

```
grader check unit1
```
"""),
]


def render() -> str:
    """The notebook as JSON text."""
    return build_notebook(CELLS)


if __name__ == "__main__":
    NOTEBOOK.write_text(render(), encoding="utf-8")
