"""Source of exercises/unit3/teaching.ipynb; `python scripts/notebooks/unit3.py` rewrites it."""
from __future__ import annotations

from pathlib import Path

from grader.notebook.build import build_notebook

NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / "unit3" / "teaching.ipynb"

CELLS = [
    ("markdown", r"""# Unit 3: teaching deep learners

A network that fits its training data perfectly can still fail on new data (overfitting), and a network
that is accurate on clean data can be fooled by tiny, deliberate changes to its input (adversarial
examples). This notebook covers the usual remedies for the first (weight penalties, dropout, batch
normalisation, early stopping, data augmentation, cross-validation) and the attacks and the defence
for the second (FGSM, PGD and adversarial training), with the saliency that explains a prediction,
ending with a small robust classifier for handwritten digits.

**How you are graded.** Each exercise ends with a check cell; `grader check unit3` runs the same checks
from a terminal. Keep the dtype and device of the inputs, never change an input in place, and do not
call the library function an exercise asks you to write."""),
    ("code", "import torch\nimport torch.nn.functional as F\nfrom torch import nn"),
    ("markdown", r"""## 1. Weight penalties

Adding a penalty on the size of the weights to the loss pulls the weights towards zero and makes the
model prefer simple explanations. For a list of parameter tensors and a strength $\lambda$:

$$\Omega_1 = \lambda \sum_{\text{tensors}} \sum_{\text{entries}} |w|, \qquad
\Omega_2 = \lambda \sum_{\text{tensors}} \sum_{\text{entries}} w^2 .$$

L1 pushes many weights to exactly zero (sparse models); L2, also called weight decay, shrinks all of them
smoothly. Note: the L2 penalty here is the **squared** norm, with no square root and no factor
$\tfrac12$. The quiz writes L2 as $\tfrac{\lambda}{2} w^2$, whose gradient is simply $\lambda w$; that is
the same penalty with its $\lambda$ twice the one here, since $\lambda w^2 = \tfrac{2\lambda}{2} w^2$.
Return a 0-d tensor."""),
    ("code", r'''def l1_penalty(params, lam):
    """params: a list of tensors; lam: float. Returns lam * sum of |w| over all entries (0-d tensor)."""
    raise NotImplementedError("l1_penalty")'''),
    ("code", 'from grader import check\ncheck("l1_penalty")'),
    ("code", r'''def l2_penalty(params, lam):
    """params: a list of tensors; lam: float. Returns lam * sum of w ** 2 over all entries (0-d tensor)."""
    raise NotImplementedError("l2_penalty")'''),
    ("code", 'check("l2_penalty")'),
    ("markdown", r"""The *elastic net* adds both penalties, each with its own strength, to get some of the sparsity of
L1 and the smooth shrinking of L2 at once:

$$\Omega = \lambda_1 \sum |w| + \lambda_2 \sum w^2 ,$$

over every entry of every tensor, with the same L2 form as above."""),
    ("code", r'''def elastic_net_penalty(params, l1, l2):
    """params: a list of tensors; l1, l2: floats. Returns l1 * sum |w| + l2 * sum w ** 2 (0-d tensor)."""
    raise NotImplementedError("elastic_net_penalty")'''),
    ("code", 'check("elastic_net_penalty")'),
    ("markdown", r"""**Which parameters to penalise.** Weight decay is meant for the weights that mix features
(the matrices of linear and convolutional layers, embeddings). A bias only shifts a unit's output, and
the scale $\gamma$ and shift $\beta$ of a normalisation layer set the size of features that the layer
has just standardised: pulling those towards zero does not make the model simpler, it only fights the
normalisation. So optimisers are usually given two parameter groups,
`torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}])`.

Write `decay_parameter_groups(model)`, which returns the pair `(decay, no_decay)` of lists of the model's
parameters (the `nn.Parameter` objects themselves): every bias and every parameter of a normalisation
layer (`nn.BatchNorm1d/2d/3d`, `nn.LayerNorm`, `nn.GroupNorm`, `nn.InstanceNorm*`) in `no_decay`, all
other parameters in `decay`, each parameter exactly once. Decide by the layer a parameter belongs to, not by
its shape (a `LayerNorm` over two dimensions has a 2-d weight). Models may nest blocks inside blocks:
`model.modules()` visits them all, and `module.named_parameters(recurse=False)` gives a module's own
parameters. The order inside each list does not matter."""),
    ("code", r'''def decay_parameter_groups(model):
    """model: an nn.Module. Returns (decay, no_decay), two lists of its parameters."""
    raise NotImplementedError("decay_parameter_groups")'''),
    ("code", 'check("decay_parameter_groups")'),
    ("markdown", r"""## 2. Dropout

During training, dropout sets each activation to zero with probability $p$, independently, so that no
unit can rely on a particular other unit being present. *Inverted* dropout also divides the survivors by
$1 - p$, which keeps the expected value of every output equal to its input:

$$y = \frac{m \odot x}{1 - p}, \quad m_i \sim \text{Bernoulli}(1 - p), \qquad
\mathbb E[y_i] = \frac{(1-p)\, x_i}{1-p} = x_i .$$

Because of that scaling, nothing needs to change at test time: in evaluation mode (`train=False`)
dropout returns `x` unchanged. Also: `p == 0` returns `x`, and `p == 1` drops everything (return zeros;
do not divide by $1 - p = 0$).

**Randomness.** Draw the mask from `generator` when one is given, so that a seeded generator gives the
same mask every time, e.g. `torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)`
(with `generator=None` this uses PyTorch's global generator). The check looks at the structure (every
output is 0 or $x/(1-p)$), the fraction of zeros over 100,000 values (within a bound that a correct
dropout misses less than once in a million runs), reproducibility, and the evaluation mode.
`F.dropout` is not allowed."""),
    ("code", r'''def dropout_forward(x, p, train=True, generator=None):
    """Inverted dropout.

    x: a tensor of any shape; p: probability of dropping each entry, 0 <= p <= 1;
    train: False means evaluation mode (return x); generator: a torch.Generator or None.
    Returns a tensor of x's shape, dtype and device.
    """
    raise NotImplementedError("dropout_forward")'''),
    ("code", 'check("dropout_forward")'),
    ("markdown", r"""## 3. Batch normalisation

Batch normalisation standardises each feature over the batch and then lets the network rescale it with
learned parameters $\gamma$ and $\beta$. For $x \in \mathbb R^{N\times D}$, per feature $d$:

$$\mu_d = \frac1N \sum_n x_{nd}, \qquad \sigma_d^2 = \frac1N \sum_n (x_{nd} - \mu_d)^2, \qquad
y_{nd} = \gamma_d\, \frac{x_{nd} - \mu_d}{\sqrt{\sigma_d^2 + \epsilon}} + \beta_d .$$

At test time there may be a single example, so batch statistics are not available. Training therefore
also keeps running estimates, moved a little towards each batch's statistics:

$$\hat\mu \leftarrow (1 - \text{momentum})\,\hat\mu + \text{momentum}\,\mu, \qquad
\hat\sigma^2 \leftarrow (1 - \text{momentum})\,\hat\sigma^2 + \text{momentum}\,\frac{N}{N-1}\,\sigma^2 ,$$

and evaluation (`train=False`) normalises with $\hat\mu$ and $\hat\sigma^2$ and leaves them unchanged.
These are PyTorch's conventions: the **biased** variance (divide by $N$) to normalise, the **unbiased**
one (divide by $N-1$) for the running estimate, and `momentum` as the weight of the new batch.
Return the new running statistics instead of changing the given ones in place.
`F.batch_norm` and `nn.BatchNorm1d` are not allowed."""),
    ("code", r'''def batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True, momentum=0.1, eps=1e-5):
    """Batch normalisation for x: (N, D); gamma, beta, running_mean, running_var: (D,).
    Returns (out (N, D), new_running_mean (D,), new_running_var (D,)).
    """
    raise NotImplementedError("batchnorm_forward")'''),
    ("code", 'check("batchnorm_forward")'),
    ("markdown", r"""## 4. Early stopping

The validation loss usually falls, flattens and then rises again as the network starts to overfit.
Early stopping watches it and stops training once it has not improved for `patience` epochs in a row,
keeping the best epoch's weights.

Precisely, for losses $L_0, L_1, \dots$ (epochs count from **0**): epoch $e$ *improves* when
$L_e < L_{\text{best}} - \text{min\_delta}$ (an equal loss is not an improvement); an improvement makes
$e$ the best epoch and resets the count of epochs without improvement. Training stops at the first
epoch where that count reaches `patience`; if it never does, the stop epoch is the last epoch."""),
    ("code", r'''def early_stopping(val_losses, patience, min_delta=0.0):
    """val_losses: a list of floats, one per epoch; patience: int >= 1; min_delta: float >= 0.
    Returns (stop_epoch, best_epoch), two ints counted from 0.
    """
    raise NotImplementedError("early_stopping")'''),
    ("code", 'check("early_stopping")'),
    ("markdown", r"""## 4b. Data augmentation

More data is the surest remedy for overfitting, and for images some of it comes free: a cat mirrored
left-right, or moved by a few pixels, is still a cat. The standard recipe for small images (CIFAR-10,
for example) draws a new variant of every training image each time it is used:

1. flip the image left-right (along its width, the last dimension) with probability `flip_p`;
2. pad it with `pad` zeros on every side, giving $(H + 2p) \times (W + 2p)$, and cut out an $H \times W$
   window at a random offset: `dy` and `dx` each uniform over $0, 1, \dots, 2p$. The image moves by
   $p - dy$ rows and $p - dx$ columns; what leaves the frame is lost and what enters it is zero.

Each image of the batch `x` of shape `(N, C, H, W)` gets its own coin and its own two offsets, all drawn
from `generator` (`torch.rand(N, generator=generator, device=x.device)`, `torch.randint(0, 2 * pad + 1,
..., generator=generator, device=x.device)`: `randint` never returns its upper bound). `F.pad` pads the last
two dimensions with `(pad, pad, pad, pad)`. Return a new tensor of `x`'s shape, dtype and device, and
leave `x` as it was.

The result is random, so the check tests properties: every output image is a window of its own zero-padded
input, flipped left-right or not; over 2,000 images the share flipped is within a statistical bound of
`flip_p` and every offset occurs; `x` is unchanged; and a generator with the same seed gives the same
batch again."""),
    ("code", r'''def augment_batch(x, generator, flip_p=0.5, pad=4):
    """x: (N, C, H, W); generator: a torch.Generator on x's device; flip_p: probability of a left-right flip;
    pad: zeros added on every side before the random H x W crop. Returns a tensor of x's shape.
    """
    raise NotImplementedError("augment_batch")'''),
    ("code", 'check("augment_batch")'),
    ("markdown", r"""## 4c. k-fold cross-validation

Early stopping and every other choice of hyperparameters need data the model is not trained on. With
few examples, holding out one validation set wastes data and gives a noisy estimate. *k-fold
cross-validation* shuffles the $n$ examples once, cuts them into $k$ folds, and trains $k$ times, each
time validating on one fold and training on the other $k - 1$; the $k$ validation scores are averaged.

Write `k_fold_indices(n, k, generator)`: shuffle `0, ..., n-1` with `torch.randperm(n, generator=generator)`
and cut the permutation into `k` folds whose sizes differ by at most one (the first `n % k` folds get
`n // k + 1` indices, the others `n // k`). Return a list of `k` int64 tensors; every index is in exactly
one fold. `torch.chunk` is not enough: for $n = 10$, $k = 4$ it gives sizes 3, 3, 3, 1."""),
    ("code", r'''def k_fold_indices(n, k, generator):
    """n, k: ints with 1 <= k <= n; generator: a torch.Generator. Returns a list of k int64 tensors."""
    raise NotImplementedError("k_fold_indices")'''),
    ("code", 'check("k_fold_indices")'),
    ("markdown", r"""## 5. Adversarial examples: FGSM and PGD

An adversarial example is an input $x' = x + \delta$ that looks like $x$ to us but is classified
differently. The attacker wants the loss as **high** as possible while keeping the change within a budget,
here the $L_\infty$ ball $\|\delta\|_\infty \le \epsilon$ (no pixel moves by more than $\epsilon$) and the
valid pixel range $[0, 1]$.

The **fast gradient sign method** takes one step to the corner of the ball that the gradient points to:

$$x' = \operatorname{clamp}\big(x + \epsilon\, \operatorname{sign}(\nabla_x \mathrm{CE}(f(x), y)),\ 0,\ 1\big).$$

**Projected gradient descent** (here really ascent) takes several smaller steps of size $\alpha$ and after
each one projects back: first onto the ball around the **original** $x$, then onto $[0, 1]$:

$$x^{(k+1)} = \operatorname{clamp}\Big(\operatorname{clip}_{[x-\epsilon,\, x+\epsilon]}\big(x^{(k)} + \alpha\, \operatorname{sign}(\nabla_x \mathrm{CE}(f(x^{(k)}), y))\big),\ 0,\ 1\Big).$$

It starts at $x^{(0)} = x$, or, with `random_start=True`, at
$\operatorname{clamp}(x + \epsilon(2u - 1), 0, 1)$ with
`u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)`.

An attack changes the input, never the model: take the gradient with respect to the input with
`torch.autograd.grad(loss, x_adv)` (calling `loss.backward()` would add to the model's `.grad`), and
leave the model's parameters, their `.grad`, `requires_grad` and train/eval mode as they were. Use the
mean cross-entropy `F.cross_entropy(model(x), y)`."""),
    ("code", r'''def fgsm_attack(model, x, y, eps):
    """model: an nn.Module mapping x (N, D) to scores (N, C); x: (N, D) in [0, 1]; y: (N,) int64; eps: float.
    Returns x_adv, shape (N, D), within eps of x and within [0, 1].
    """
    raise NotImplementedError("fgsm_attack")'''),
    ("code", 'check("fgsm_attack")'),
    ("code", r'''def pgd_attack(model, x, y, eps, alpha, steps, random_start=False, generator=None):
    """L-infinity PGD: `steps` steps of size alpha, each followed by projection onto the eps-ball around x
    and clamping to [0, 1]. Returns x_adv with x's shape.
    """
    raise NotImplementedError("pgd_attack")'''),
    ("code", 'check("pgd_attack")'),
    ("markdown", r"""## 6. Adversarial training

Adversarial training is a game of two optimisations: the attack maximises the loss over $\delta$, and
training minimises over the weights $\theta$ what the attack achieves. In practice every mini-batch gets
an adversarial copy made on the fly with PGD, and the model is trained on both:

$$L(\theta) = \mathrm{CE}(f_\theta(x), y) + \mathrm{CE}(f_\theta(x_{\text{adv}}), y), \qquad
x_{\text{adv}} = \mathrm{PGD}(f_\theta, x, y).$$

One step: make `x_adv` with your `pgd_attack`, call `optimizer.zero_grad()` (the model may hold old
gradients), compute the summed loss, `backward()`, `optimizer.step()`, and return the loss as a Python
float (`loss.item()`). The check compares the parameters after your step with the reference's from the
same starting weights, so this exercise also needs a correct `pgd_attack`."""),
    ("code", r'''def adversarial_training_step(model, optimizer, x, y, eps, alpha, steps):
    """One optimiser step on CE(clean) + CE(PGD adversarial). Returns the loss (a float)."""
    raise NotImplementedError("adversarial_training_step")'''),
    ("code", 'check("adversarial_training_step")'),
    ("markdown", r"""## 6b. Which inputs matter: backpropagated saliency

FGSM follows the gradient of the loss with respect to the input; the gradient of a class's score with
respect to the input explains a prediction. For an input $x$ and a class $c$ with score
$s_c(x)$ (the logit, before any softmax), the *saliency* of feature $i$ is $\partial s_c / \partial x_i$:
how fast that class's score changes when feature $i$ moves. Features with a large $|\partial s_c / \partial
x_i|$ decide the classification; ranking them by that magnitude is Unit 1's backpropagated saliency,
which can also select features.

Write `input_saliency(model, x, target)`, which returns the signed gradient for a batch: row $n$ is
$\partial s_{\text{target}[n]}(x_n) / \partial x_n$. Since each example's score depends on its own input
only, one backward pass through the sum of the picked scores gives all rows at once. As in the attacks,
take the gradient with `torch.autograd.grad` on a copy of `x` that requires grad, and leave the model
(its parameters, their `.grad`, its mode) as it was."""),
    ("code", r'''def input_saliency(model, x, target):
    """model: scores (N, C) from x (N, D); target: (N,) int64 classes. Returns d score[n, target[n]] / d x, x's shape."""
    raise NotImplementedError("input_saliency")'''),
    ("code", 'check("input_saliency")'),
    ("markdown", r"""## 7. A robust digit classifier

Now train for real on scikit-learn's 8x8 handwritten digits (bundled with scikit-learn, no download).
Write `train_digits`, which builds a small network and trains it with mini-batches, either normally or,
with `adversarial=True`, with `adversarial_training_step` on every mini-batch.

The check calls it twice, with `epochs=5` and `seed=0`, on 1,400 training images with pixels
scaled to $[0, 1]$ (once normally, once adversarially), and measures both models on 397 other
images that your code never sees. Robust accuracy at $\epsilon = 0.15$ counts an image only if it
survives every attack the grader tries: FGSM, PGD on the margin $\max_{j \ne y} z_j - z_y$ from
random starts, and images attacked on the grader's own models (a transfer attack). It passes when
both models reach 90 % clean accuracy, the adversarially trained model keeps a robust accuracy of at
least 30 %, and that is at least 15 points more than the standard model keeps. (The solution's models
keep about 43 % and 14 %.) As a sanity check, attacks on your model's own gradients must bring its accuracy down
to 20 % or less at $\epsilon = 0.5$, where every digit is within reach of the same grey image. A model
that only hides its gradients (scaled-up logits, a Tanh or Sigmoid saturated by huge weights) is not
robust, and fails.

Choices that work: a 64-64-10 ReLU network, Adam with learning rate 0.01, batch size 64, and for
training $\epsilon = 0.1$, $\alpha = 0.04$, 3 PGD steps. Call `torch.manual_seed(seed)` first so that
runs repeat, and create the model on `X.device` with `X.dtype`. The whole check must finish within
half a minute on a CPU.

The cell after the skeleton loads the data so you can try your function yourself."""),
    ("code", r'''def train_digits(X, y, adversarial=False, epochs=15, lr=0.01, batch_size=64,
                 eps=0.1, alpha=0.04, steps=3, seed=0):
    """X: (N, 64) float32 in [0, 1]; y: (N,) int64 labels 0-9.
    Returns the trained model, an nn.Sequential of standard layers (Linear, ReLU, ...),
    mapping (N, 64) to scores (N, 10).
    """
    raise NotImplementedError("train_digits")'''),
    ("code", r'''# Try it yourself (not graded): robustness of a standard and an adversarially trained model.
def try_digits():
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    # the check's split: 1,400 training images drawn at random (seed 0), the other 397 for testing
    perm = torch.from_numpy(np.random.default_rng(0).permutation(len(X)))
    X_train, y_train, X_test, y_test = X[perm[:1400]], y[perm[:1400]], X[perm[1400:]], y[perm[1400:]]
    for adversarial in (False, True):
        model = train_digits(X_train, y_train, adversarial=adversarial, epochs=5)
        with torch.no_grad():
            clean = (model(X_test).argmax(1) == y_test).float().mean().item()
        x_adv = fgsm_attack(model, X_test, y_test, 0.15)
        with torch.no_grad():
            robust = (model(x_adv).argmax(1) == y_test).float().mean().item()
        print(f"adversarial={adversarial}: clean {clean:.3f}, under FGSM {robust:.3f}")

# try_digits()'''),
    ("code", 'check("adversarial_digits")'),
]


def render() -> str:
    """The notebook as JSON text."""
    return build_notebook(CELLS)


if __name__ == "__main__":
    NOTEBOOK.write_text(render(), encoding="utf-8")
