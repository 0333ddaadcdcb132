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
rules, the losses used for classification, a linear model solved in closed
form, and a small autoencoder that finds unusual inputs.

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
**Sanity check with the lecture's numbers.** For the scores $[1, 3, 4, 7]$,
subtracting the maximum gives $[-6, -4, -3, 0]$. The exponentials are
about $0.0025, 0.0183, 0.0498$ and $1$, and they add up to about $1.0706$. The
probabilities are therefore about $0.0023, 0.0171, 0.0465$ and $0.9341$. The
largest score takes almost all of the mass, although it is only $3$ above the
next one.
"""),
("code", r"""
p = softmax(torch.tensor([1.0, 3.0, 4.0, 7.0]))
print(p)
assert torch.allclose(p, torch.tensor([0.0023, 0.0171, 0.0465, 0.9341]), atol=1e-4)
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
**Sanity check with the lecture's numbers.** In the lecture, a model gives the
three classes the probabilities $0.2, 0.7$ and $0.1$, and the true class is
the second one. Only the true class counts in the loss, so it is
$-\log 0.7 \approx 0.357$. Scores equal to the log-probabilities give exactly
these probabilities, because their exponentials already sum to one.
"""),
("code", r"""
loss, _ = softmax_cross_entropy(torch.log(torch.tensor([[0.2, 0.7, 0.1]])), torch.tensor([1]))
print(loss)
assert abs(loss.item() - 0.3567) < 1e-4
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
## 7. Least squares and ridge regression in closed form

A linear model $\hat{\mathbf y} = X\mathbf w + b$ with $X \in \mathbb R^{N\times D}$
can be fitted without any gradient steps. Ridge regression minimises the
summed squared error plus a penalty on the weights:

$$ E(\mathbf w, b) = \lVert X\mathbf w + b\mathbf 1 - \mathbf y\rVert^2 + \lambda \lVert \mathbf w\rVert^2 . $$

The bias is not penalised: shifting every target by a constant should shift $b$
by the same constant and leave $\mathbf w$ alone. Setting $\partial E/\partial b = 0$ gives
$b = \bar y - \bar{\mathbf x}\cdot\mathbf w$ ($\bar{\mathbf x}$ is the mean row of $X$ and $\bar y$ the
mean target). Substituting it back leaves a problem in the centred data
$X_c = X - \bar{\mathbf x}$, $\mathbf y_c = \mathbf y - \bar y$ alone. Its gradient
vanishes where

$$ (X_c^\top X_c + \lambda I)\,\mathbf w = X_c^\top \mathbf y_c . $$

With $\lambda = 0$ these are the normal equations of ordinary least squares.
They have one solution only when the centred columns are linearly
independent. Any $\lambda > 0$ makes the matrix positive definite, so ridge
regression also has a unique answer when columns repeat, or when there are
more features than samples. Solve the system with `torch.linalg.solve`
rather than forming an inverse: solving is cheaper and more accurate. The checks
compare your answer with `torch.linalg.lstsq` on the matrix $[X\;\mathbf 1]$
(with the rows $[\sqrt\lambda I\;\mathbf 0]$ added below it when $\lambda > 0$)
and with the normal equations. Note that $\lambda$ multiplies the penalty
beside the *summed* error, not beside the mean.
"""),
("code", r'''
def least_squares(X, y, l2=0.0):
    """Ridge regression in closed form, the bias not penalised.

    X: (N, D) float tensor, y: (N,) targets, l2: the penalty weight (>= 0)
    returns: (w, b) with w of shape (D,) and b a 0-d tensor, in X's dtype and device
    """
    raise NotImplementedError("write least_squares")
'''),
("code", r"""
check("least_squares")
"""),
("markdown", r"""
## 8. The squared hinge loss

The multiclass hinge loss of section 6 grows linearly with each violated
margin. Squaring each term penalises large violations more and small ones less,
and gives a loss that can be differentiated everywhere:

$$ L = \frac1N \sum_i \sum_{j \ne y_i} m_{ij}^2, \qquad m_{ij} = \max\big(0,\; s_{ij} - s_{iy_i} + \Delta\big). $$

The derivative of $m^2$ is $2m$. A term adds $2m_{ij}/N$ to the gradient of
$s_{ij}$ and subtracts the same amount from the gradient of $s_{iy_i}$:

$$ \frac{\partial L}{\partial s_{ij}} = \frac{2 m_{ij}}{N} \;(j\ne y_i), \qquad
\frac{\partial L}{\partial s_{iy_i}} = -\frac{2}{N}\sum_{j\ne y_i} m_{ij}. $$

Return the loss and this gradient. Do not use autograd, `F.multi_margin_loss`
or `nn.MultiMarginLoss`. The checks compare with
`F.multi_margin_loss(..., p=2)`, which averages over classes where this loss
sums over them.
"""),
("code", r'''
def squared_hinge_loss(scores, y, margin=1.0):
    """Multiclass squared hinge loss and its gradient.

    scores: (N, C) float tensor, y: (N,) int64 labels, margin: float
    returns: (loss, dscores) with loss a 0-d tensor and dscores of shape (N, C)
    """
    raise NotImplementedError("write squared_hinge_loss")
'''),
("code", r"""
check("squared_hinge_loss")
"""),
("markdown", r"""
## 9. An autoencoder

An autoencoder learns to copy its input through a narrow middle layer, the
*code*. The encoder maps $\mathbf x \in \mathbb R^{d_\text{in}}$ to
$\mathbf h \in \mathbb R^{d_\text{code}}$ with $d_\text{code} < d_\text{in}$, and the
decoder maps $\mathbf h$ back to a reconstruction $\hat{\mathbf x}$. Since the code
is smaller than the input, the network cannot simply learn the identity. It
has to keep what matters most about typical inputs, and it is trained on
nothing but the inputs themselves, with the loss $\lVert\hat{\mathbf x} - \mathbf x\rVert^2$.

Here both parts are single `nn.Linear` layers with a **ReLU** between them:

$$ \hat{\mathbf x} = W_\text{dec}\,\operatorname{relu}(W_\text{enc}\mathbf x + \mathbf b_\text{enc}) + \mathbf b_\text{dec}. $$

Without the ReLU, the two layers would collapse into one linear map of rank at
most $d_\text{code}$, and the best such map is the projection that PCA finds.
Name the layers `encoder` and `decoder` (the checks load weights by these
names). `forward(x)` returns the reconstruction, with no activation after
the decoder.
"""),
("code", r'''
from torch import nn


class Autoencoder(nn.Module):
    """x (N, d_in) -> decoder(relu(encoder(x))) (N, d_in), with a code of d_code units."""

    def __init__(self, d_in, d_code):
        super().__init__()
        raise NotImplementedError("write Autoencoder.__init__")

    def forward(self, x):
        raise NotImplementedError("write Autoencoder.forward")
'''),
("code", r"""
check("Autoencoder")
"""),
("markdown", r"""
## 10. Reconstruction error as an outlier score

An autoencoder trained on typical data reconstructs typical inputs well and
unusual ones badly. The reconstruction error of a sample is therefore a score
of how unusual it is. The lecture sums, row by row, the squared entries of the
difference between a data matrix and its reconstruction. Here the score of sample
$i$ is its mean squared error over the $D$ features:

$$ \text{score}_i = \frac1D \sum_{d=1}^{D} (\hat x_{id} - x_{id})^2 . $$

Compute it without building an autograd graph (`torch.no_grad()`), and leave
the model as it is: do not train it or switch its mode.

The cell after the check trains your autoencoder on the handwritten digits of
scikit-learn (`load_digits`: 1,797 images of 8×8 pixels) and lists the digits
with the highest scores. They are often badly written or unusually thick. Remove
the `#` before the last line to run it; it takes a few seconds.
"""),
("code", r'''
def reconstruction_scores(model, x):
    """Per-sample mean squared reconstruction error.

    model: maps (N, D) to (N, D); x: (N, D)
    returns: (N,) scores, one per sample
    """
    raise NotImplementedError("write reconstruction_scores")
'''),
("code", r"""
check("reconstruction_scores")
"""),
("code", r'''
# Try it yourself (not graded): flag the most unusual digits.
def flag_digit_outliers(d_code=8, epochs=300, top=8):
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = torch.tensor(digits.data / 16.0, dtype=torch.float32)   # (1797, 64) in [0, 1]
    torch.manual_seed(0)
    model = Autoencoder(64, d_code)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):                                      # full-batch training
        optimiser.zero_grad()
        loss = ((model(X) - X) ** 2).mean()
        loss.backward()
        optimiser.step()
    model.eval()
    scores = reconstruction_scores(model, X)                     # (1797,)
    worst = scores.argsort(descending=True)[:top]
    print(f"mean score {scores.mean():.4f}; the {top} highest:")
    for i in worst.tolist():
        print(f"  image {i:4d}, label {digits.target[i]}, score {scores[i]:.4f}")
    return worst

# flag_digit_outliers()
'''),
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
