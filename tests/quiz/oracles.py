"""Independent torch computations of every calculated quiz answer.

Each oracle takes a question's parameters (as plain numbers) and returns what
torch computes: a number, a shape, or -- for symbolic questions -- a function
of the variables computed with autograd.  None of them uses the bank formulas.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

Params = dict[str, Any]
ORACLES: dict[tuple[str, str], Callable[[Params], Any]] = {}


def oracle(unit: str, qid: str) -> Callable[[Callable[[Params], Any]], Callable[[Params], Any]]:
    def register(fn: Callable[[Params], Any]) -> Callable[[Params], Any]:
        ORACLES[(unit, qid)] = fn
        return fn
    return register


def t(*values: float, grad: bool = False) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def derivative(fn: Callable[[torch.Tensor, dict[str, float]], torch.Tensor], wrt: str) -> Callable[[dict[str, float]], float]:
    """A function of the variables returning d fn / d wrt, by autograd."""
    def at(env: dict[str, float]) -> float:
        x = torch.tensor(env[wrt], dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(fn(x, env), x)
        return g.item()
    return at


# --- unit 1 -----------------------------------------------------------------

@oracle("unit1", "perceptron_output")
def _(p: Params) -> int:
    z = t(p["w1"], p["w2"]) @ t(p["x1"], p["x2"]) + p["b"]
    return int(torch.heaviside(z, torch.tensor(0.0, dtype=torch.float64)).item())


@oracle("unit1", "delta_rule")
def _(p: Params) -> float:
    w = t(p["w"], grad=True)
    loss = 0.5 * (p["t"] - w * p["x"]) ** 2
    loss.sum().backward()
    return (w - p["lr"] * w.grad).item()


@oracle("unit1", "logistic_grad")
def _(p: Params) -> float:
    w = t(p["w"], grad=True)
    loss = F.binary_cross_entropy_with_logits(w * p["x"] + p["b"], t(p["y"]))
    loss.backward()
    return w.grad.item()


@oracle("unit1", "softmax_prob")
def _(p: Params) -> float:
    return torch.softmax(t(p["z1"], p["z2"], p["z3"]), dim=0)[p["k"] - 1].item()


@oracle("unit1", "cross_entropy")
def _(p: Params) -> float:
    logits = t(p["z1"], p["z2"], p["z3"]).unsqueeze(0)
    return F.cross_entropy(logits, torch.tensor([p["c"] - 1])).item()


@oracle("unit1", "hinge_loss")
def _(p: Params) -> int:
    scores = t(p["s1"], p["s2"], p["s3"], p["s4"]).unsqueeze(0)
    # multi_margin_loss averages over the C classes; the quiz uses the sum
    return round(F.multi_margin_loss(scores, torch.tensor([p["c"] - 1])).item() * 4)


@oracle("unit1", "sigmoid_derivative")
def _(p: Params) -> Callable[[dict[str, float]], float]:
    return derivative(lambda x, env: torch.sigmoid(p["a"] * x), "x")


@oracle("unit1", "tanh_derivative")
def _(p: Params) -> Callable[[dict[str, float]], float]:
    return derivative(lambda x, env: torch.tanh(p["a"] * x + p["b"]), "x")


@oracle("unit1", "least_squares_slope")
def _(p: Params) -> float:
    x, y = t(p["x1"], p["x2"], p["x3"]), t(p["y1"], p["y2"], p["y3"])
    design = torch.stack([x, torch.ones_like(x)], dim=1)  # columns: slope, intercept
    return torch.linalg.lstsq(design, y.unsqueeze(1), driver="gelsd").solution[0, 0].item()


@oracle("unit1", "normal_equation_weight")
def _(p: Params) -> float:
    X = t(p["a1"], p["b1"], p["a2"], p["b2"], p["a3"], p["b3"]).view(3, 2)
    y = t(p["y1"], p["y2"], p["y3"]).unsqueeze(1)
    return torch.linalg.lstsq(X, y, driver="gelsd").solution[0, 0].item()


@oracle("unit1", "autoencoder_params")
def _(p: Params) -> int:
    return _count(nn.Sequential(nn.Linear(p["d"], p["k"]), nn.ReLU(), nn.Linear(p["k"], p["d"])))


@oracle("unit1", "saliency_gradient")
def _(p: Params) -> float:
    x = t(p["x1"], p["x2"], grad=True)
    hidden = torch.relu(t(p["a1"], p["a2"], p["b1"], p["b2"]).view(2, 2) @ x)
    (t(p["v1"], p["v2"]) @ hidden).backward()
    return x.grad[0].item()


# --- unit 2 -----------------------------------------------------------------

def _f_grads(p: Params) -> tuple[float, float, float]:
    x, y, z = (t(p[k], grad=True) for k in "xyz")
    ((x + y) * z).sum().backward()
    return x.grad.item(), y.grad.item(), z.grad.item()


@oracle("unit2", "backprop_dx")
def _(p: Params) -> int:
    return round(_f_grads(p)[0])


@oracle("unit2", "backprop_dz")
def _(p: Params) -> int:
    return round(_f_grads(p)[2])


def _sgd_steps(w0: float, loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int,
               **kwargs: float) -> float:
    w = nn.Parameter(t(w0))
    opt = torch.optim.SGD([w], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(w).sum().backward()
        opt.step()
    return w.item()


@oracle("unit2", "gd_quadratic")
def _(p: Params) -> float:
    return _sgd_steps(p["w0"], lambda w: p["a"] * (w - p["c"]) ** 2, 1, lr=p["lr"])


@oracle("unit2", "sgd_minibatch")
def _(p: Params) -> float:
    x, y = t(p["x1"], p["x2"], p["x3"]), t(p["y1"], p["y2"], p["y3"])
    return _sgd_steps(p["w"], lambda w: F.mse_loss(w * x, y), 1, lr=p["lr"])


@oracle("unit2", "lr_decay")
def _(p: Params) -> float:
    opt = torch.optim.SGD([nn.Parameter(t(0.0))], lr=p["lr0"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (1 + p["k"] * epoch))
    for _ in range(p["t"]):
        opt.step()
        sched.step()
    return opt.param_groups[0]["lr"]


@oracle("unit2", "momentum_two_steps")
def _(p: Params) -> float:
    return _sgd_steps(p["w0"], lambda w: 0.5 * p["a"] * w ** 2, 2, lr=p["lr"], momentum=p["mu"])


@oracle("unit2", "adam_first_step")
def _(p: Params) -> float:
    w = nn.Parameter(t(p["w0"]))
    opt = torch.optim.Adam([w], lr=p["lr"], betas=(0.9, 0.999), eps=1e-8)
    w.grad = t(p["g"])
    opt.step()
    return w.item()


@oracle("unit2", "he_init_std")
def _(p: Params) -> float:
    w = torch.empty(4000, p["n"], dtype=torch.float64)
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu",
                            generator=torch.Generator().manual_seed(0))
    return w.std().item()  # sampled: the test compares with a loose tolerance


@oracle("unit2", "xavier_bound")
def _(p: Params) -> float:
    w = torch.empty(p["n_out"], p["n_in"], dtype=torch.float64)
    nn.init.xavier_uniform_(w, generator=torch.Generator().manual_seed(0))
    return w.abs().max().item()  # sampled: just below the bound


@oracle("unit2", "sigmoid_chain_factor")
def _(p: Params) -> float:
    x = t(0.0, grad=True)
    h = x
    for _ in range(p["L"]):
        h = torch.sigmoid(h) - 0.5  # recentre so the next unit also sits at its steepest point
    h.sum().backward()
    return x.grad.item()


@oracle("unit2", "lecun_init_std")
def _(p: Params) -> float:
    w = torch.empty(4000, p["n"], dtype=torch.float64)
    # LeCun normal is Kaiming normal with gain 1 (a linear activation) in fan-in mode
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="linear",
                            generator=torch.Generator().manual_seed(0))
    return w.std().item()  # sampled: the test compares with a loose tolerance


@oracle("unit2", "glorot_normal_std")
def _(p: Params) -> float:
    w = torch.empty(p["n_out"], p["n_in"], dtype=torch.float64)
    samples = []
    for seed in range(40):
        nn.init.xavier_normal_(w, generator=torch.Generator().manual_seed(seed))
        samples.append(w.clone())
    return torch.cat(samples).std().item()  # sampled: the test compares with a loose tolerance


# --- unit 3 -----------------------------------------------------------------

def _one_step(w0: float, g: float, **kwargs: float) -> float:
    w = nn.Parameter(t(w0))
    opt = torch.optim.SGD([w], **kwargs)
    w.grad = t(g)
    opt.step()
    return w.item()


@oracle("unit3", "l2_step")
def _(p: Params) -> float:
    return _one_step(p["w"], p["g"], lr=p["lr"], weight_decay=p["lam"])


@oracle("unit3", "l1_step")
def _(p: Params) -> float:
    w = nn.Parameter(t(p["w"]))
    (p["g"] * w + p["lam"] * w.abs()).sum().backward()
    return (w - p["lr"] * w.grad).item()


@oracle("unit3", "dropout_scale")
def _(p: Params) -> float:
    torch.manual_seed(0)
    drop = nn.Dropout(p["p"]).train()
    out = drop(torch.full((1000,), float(p["a"]), dtype=torch.float64))
    kept = out[out != 0]
    assert kept.numel() > 0
    return kept[0].item()


@oracle("unit3", "batchnorm_value")
def _(p: Params) -> float:
    bn = nn.BatchNorm1d(1, eps=1e-15, dtype=torch.float64).train()
    with torch.no_grad():
        bn.weight.fill_(p["gamma"])
        bn.bias.fill_(p["beta"])
    return bn(t(p["x1"], p["x2"], p["x3"], p["x4"]).unsqueeze(1))[0, 0].item()


def _bce_input_grad(p: Params, label: float) -> torch.Tensor:
    x = t(p["x1"], p["x2"], grad=True)
    logit = x @ t(p["w1"], p["w2"]) + p["b"]
    F.binary_cross_entropy_with_logits(logit, t(label).squeeze()).backward()
    return x.grad


@oracle("unit3", "fgsm_untargeted")
def _(p: Params) -> float:
    return p["x1"] + p["eps"] * torch.sign(_bce_input_grad(p, p["y"]))[0].item()


@oracle("unit3", "fgsm_targeted")
def _(p: Params) -> float:
    return p["x2"] - p["eps"] * torch.sign(_bce_input_grad(p, p["t"]))[1].item()


@oracle("unit3", "elastic_net_step")
def _(p: Params) -> float:
    w = nn.Parameter(t(p["w"]))
    penalty = p["lam"] * ((1 - p["a"]) * w.abs() + p["a"] * w ** 2)
    (p["g"] * w + penalty).sum().backward()
    return (w - p["lr"] * w.grad).item()


@oracle("unit3", "elastic_net_penalty")
def _(p: Params) -> float:
    w = t(p["w1"], p["w2"], p["w3"])
    l1, l2 = torch.linalg.vector_norm(w, 1), torch.linalg.vector_norm(w, 2)
    return (p["lam"] * ((1 - p["a"]) * l1 + p["a"] * l2 ** 2)).item()


# --- unit 4 -----------------------------------------------------------------

@oracle("unit4", "rnn_step")
def _(p: Params) -> float:
    rnn = nn.RNN(1, 1, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(p["wx"])
        rnn.weight_hh_l0.fill_(p["wh"])
        rnn.bias_ih_l0.fill_(p["b"])
        rnn.bias_hh_l0.zero_()
    _, h = rnn(t(p["x1"]).view(1, 1, 1), t(p["h0"]).view(1, 1, 1))
    return h.item()


def _lstm_cell(weights_ih: list[float], weights_hh: list[float], bias: list[float],
               x: float, h: float, c: float) -> tuple[float, float]:
    cell = nn.LSTMCell(1, 1, dtype=torch.float64)  # gate order: i, f, g, o
    with torch.no_grad():
        cell.weight_ih.copy_(t(*weights_ih).view(4, 1))
        cell.weight_hh.copy_(t(*weights_hh).view(4, 1))
        cell.bias_ih.copy_(t(*bias))
        cell.bias_hh.zero_()
    h1, c1 = cell(t(x).view(1, 1), (t(h).view(1, 1), t(c).view(1, 1)))
    return h1.item(), c1.item()


@oracle("unit4", "lstm_forget_gate")
def _(p: Params) -> float:
    # Only the forget gate is non-trivial; the candidate g = tanh(0) = 0, so c1 = f * c0.
    c0 = 1.0
    _, c1 = _lstm_cell([0, p["wf"], 0, 0], [0, p["uf"], 0, 0], [0, p["bf"], 0, 0],
                       p["x"], p["h"], c0)
    return c1 / c0


@oracle("unit4", "lstm_output")
def _(p: Params) -> float:
    logit = lambda q: math.log(q / (1 - q))  # noqa: E731 - bias that makes sigma(bias) = q
    bias = [logit(p["i"]), logit(p["f"]), math.atanh(p["g"]), logit(p["o"])]
    h1, _ = _lstm_cell([0] * 4, [0] * 4, bias, 0.5, 0.25, p["c"])
    return h1


@oracle("unit4", "gru_step")
def _(p: Params) -> float:
    cell = nn.GRUCell(1, 1, dtype=torch.float64)  # gate order: r, z, n
    with torch.no_grad():
        cell.weight_ih.copy_(t(p["wr"], p["wz"], p["wn"]).view(3, 1))
        cell.weight_hh.copy_(t(p["ur"], p["uz"], p["un"]).view(3, 1))
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    return cell(t(p["x"]).view(1, 1), t(p["h"]).view(1, 1)).item()


def _count(module: nn.Module) -> int:
    return sum(q.numel() for q in module.parameters())


@oracle("unit4", "lstm_param_count")
def _(p: Params) -> int:
    return _count(nn.LSTM(p["d"], p["h"], num_layers=p["layers"]))


@oracle("unit4", "gru_param_count")
def _(p: Params) -> int:
    return _count(nn.GRU(p["d"], p["h"]))


@oracle("unit4", "lstm_output_shape")
def _(p: Params) -> list[int]:
    lstm = nn.LSTM(p["d"], p["h"], num_layers=p["layers"], batch_first=True)
    with torch.no_grad():
        output, _ = lstm(torch.zeros(p["n"], p["t"], p["d"]))
    return list(output.shape)


@oracle("unit4", "gru_hidden_shape")
def _(p: Params) -> list[int]:
    gru = nn.GRU(p["d"], p["h"], num_layers=p["layers"], batch_first=True, bidirectional=True)
    with torch.no_grad():
        _, h_n = gru(torch.zeros(p["n"], p["t"], p["d"]))
    return list(h_n.shape)


@oracle("unit4", "bptt_factor")
def _(p: Params) -> float:
    h0 = t(1.0, grad=True)
    h = h0
    for _ in range(p["T"]):
        h = p["w"] * h + 0.3
    h.sum().backward()
    return h0.grad.item()


@oracle("unit4", "rnn_state_derivative")
def _(p: Params) -> Callable[[dict[str, float]], float]:
    return derivative(lambda h0, env: torch.tanh(p["w"] * h0 + p["u"] * env["x"]), "h0")


@oracle("unit4", "seq2seq_logits_shape")
def _(p: Params) -> list[int]:
    embed, gru = nn.Embedding(p["v"], p["m"]), nn.GRU(p["m"], p["h"], batch_first=True)
    head = nn.Linear(p["h"], p["v"])
    tokens = torch.zeros(p["n"], p["t"], dtype=torch.long)     # (N, T): the shifted targets
    encoder_state = torch.zeros(1, p["n"], p["h"])              # (layers, N, H)
    with torch.no_grad():
        outputs, _ = gru(embed(tokens), encoder_state)          # (N, T, H)
        return list(head(outputs).shape)                        # (N, T, V)


# --- unit 5 -----------------------------------------------------------------

def _shape(net: nn.Module, *shape: int) -> list[int]:
    with torch.no_grad():
        return list(net(torch.zeros(*shape)).shape)


@oracle("unit5", "conv_out_size")
def _(p: Params) -> int:
    conv = nn.Conv2d(1, 1, p["k"], stride=p["s"], padding=p["p"])
    return _shape(conv, 1, 1, p["n"], p["n"])[2]


@oracle("unit5", "conv_pool_shape")
def _(p: Params) -> list[int]:
    net = nn.Sequential(nn.Conv2d(p["c"], p["f"], p["k"], padding=p["p"]), nn.ReLU(),
                        nn.MaxPool2d(p["q"]))
    return _shape(net, p["b"], p["c"], p["n"], p["n"])


@oracle("unit5", "conv_param_count")
def _(p: Params) -> int:
    return _count(nn.Conv2d(p["cin"], p["cout"], p["k"]))


@oracle("unit5", "lenet_flatten")
def _(p: Params) -> int:
    features = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=p["p"]), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    return _shape(features, 1, 1, p["n"], p["n"])[1]


class Residual(nn.Module):
    """The d2l residual block with a 1x1 convolution on the skip path."""

    def __init__(self, in_channels: int, num_channels: int, strides: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, num_channels, 3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, num_channels, 1, stride=strides)
        self.bn1, self.bn2 = nn.BatchNorm2d(num_channels), nn.BatchNorm2d(num_channels)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))  # (N, num_channels, H', W')
        Y = self.bn2(self.conv2(Y))
        return F.relu(Y + self.conv3(X))


@oracle("unit5", "resnet_block_shape")
def _(p: Params) -> list[int]:
    return _shape(Residual(p["c"], p["f"], p["s"]).eval(), p["b"], p["c"], p["n"], p["n"])


@oracle("unit5", "resnet_stem_shape")
def _(p: Params) -> list[int]:
    stem = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.MaxPool2d(3, stride=2, padding=1)).eval()
    return _shape(stem, p["b"], 3, p["n"], p["n"])


def _receptive_width(net: nn.Module, size: int) -> int:
    """Width of the input region that influences the centre output unit (by autograd)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
            nn.init.zeros_(m.bias)
    x = torch.ones(1, 1, size, size, requires_grad=True)
    y = net(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0))
    return int(cols.max() - cols.min() + 1)


@oracle("unit5", "receptive_field_stack")
def _(p: Params) -> int:
    net = nn.Sequential(*[nn.Conv2d(1, 1, p["k"]) for _ in range(p["L"])])
    return _receptive_width(net, 2 * p["L"] * p["k"] + 5)


@oracle("unit5", "receptive_field_strided")
def _(p: Params) -> int:
    net = nn.Sequential(nn.Conv2d(1, 1, p["k1"], stride=p["s1"]), nn.Conv2d(1, 1, p["k2"]))
    return _receptive_width(net, 4 * (p["k1"] + p["k2"] * p["s1"]))


@oracle("unit5", "conv_multiplications")
def _(p: Params) -> Callable[[dict[str, float]], float]:
    conv = nn.Conv2d(p["cin"], p["cout"], p["k"], padding=p["p"])

    def at(env: dict[str, float]) -> float:
        n = round(env["n"])  # the formula is checked at whole sizes
        out = _shape(conv, 1, p["cin"], n, n)
        return float(math.prod(out) * p["cin"] * p["k"] ** 2)
    return at


@oracle("unit5", "vgg_stack_savings")
def _(p: Params) -> int:
    probe = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(p["L"])])
    k = _receptive_width(probe, 8 * p["L"] + 5)   # the single kernel that sees as much
    stack = nn.Sequential(*[nn.Conv2d(p["c"], p["c"], 3, padding=1) for _ in range(p["L"])])
    return _count(nn.Conv2d(p["c"], p["c"], k)) - _count(stack)


@oracle("unit5", "inception_bottleneck_params")
def _(p: Params) -> int:
    return _count(nn.Sequential(nn.Conv2d(p["c"], p["r"], 1), nn.Conv2d(p["r"], p["f"], p["k"])))
