"""Unit 5: the references pass, the starters score 0, typical mistakes get their hints, PyTorch agrees."""
from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.drivers import BadOutput
from helpers import ROOT, assert_fails_with, check_path, notebook_script


EXERCISES = ["conv_output_size", "conv2d_forward", "maxpool2d_forward", "conv2d_num_params", "linear_num_params",
             "receptive_field", "ResidualBlock", "small_resnet", "LeNet5", "vgg_block", "InceptionBlock",
             "conv_transpose_output_size", "ConvAutoencoder", "fine_tune"]
REFERENCE_FILES = ("cnn.py", "resnet.py", "architectures.py")


def _reference_namespace():
    namespace = {"__name__": "unit5_reference"}
    for name in REFERENCE_FILES:
        exec(compile((ROOT / "solutions/unit5" / name).read_text(), name, "exec"), namespace)  # noqa: S102
    return namespace


REF = _reference_namespace()


def test_references_pass_through_a_worker(tmp_path):
    for name in REFERENCE_FILES:
        shutil.copy(ROOT / "solutions/unit5" / name, tmp_path / name)
    result = check_path("unit5", tmp_path)
    failed = {n: [c.message for c in e.checks if not c.passed] for n, e in result.exercises.items() if not e.passed}
    assert not failed
    assert list(result.exercises) == EXERCISES
    assert result.score == result.max_score


def test_starters_score_zero():
    result = check_path("unit5", ROOT / "exercises/unit5")
    assert list(result.exercises) == EXERCISES
    assert all(e.score == 0 and e.checks for e in result.exercises.values())
    assert not result.notes  # every cell of the starter runs, the LeNet table included



def _cell(name):
    cells = json.loads(notebook_script("unit5").render())["cells"]
    source = next("".join(c["source"]) for c in cells if f"def {name}" in "".join(c["source"]))
    namespace = dict(REF)
    exec(source.split("\n\ntry:")[0], namespace)  # noqa: S102
    return namespace[name]


def test_quiz_network_cell_reproduces_the_quiz():
    assert _cell("quiz_network_table")() == 7600 + 44807 + 80


def test_lenet5_table_cell_gives_the_slides_counts():
    assert _cell("lenet5_table")() == [608, 3216, 48120, 10164, 850]


def test_bottleneck_cell_counts_the_reference_block():
    with_bottlenecks, without = _cell("bottleneck_savings")()
    block = REF["InceptionBlock"](192, 64, (96, 128), (16, 32), 32)
    assert with_bottlenecks == sum(p.numel() for p in block.parameters()) < without


# typical wrong implementations, written as a student would ----------------
SIZE = [
    ("no +1", "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
              "    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride\n"
              "    if out <= 0:\n        raise ValueError('too small')\n    return out\n", "add 1 after the division"),
    ("true division", "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
                      "    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1\n",
     "return a Python int"),
    ("ceil", "import math\ndef conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
             "    out = math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1\n"
             "    if out <= 0:\n        raise ValueError('too small')\n    return out\n", "round down (floor)"),
    ("no dilation", "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
                    "    out = (size + 2 * padding - kernel_size) // stride + 1\n"
                    "    if out < 1:\n        raise ValueError('too small')\n    return out\n", "dilated kernel"),
    ("no ValueError", "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
                      "    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1\n",
     "raise ValueError"),
]

CONV_HEAD = "import torch\nimport torch.nn.functional as F\n"


def _conv_src(pad="(padding, padding, padding, padding)", kernel="w", step="stride", bias=" + b[None, :, None, None]"):
    return CONV_HEAD + f"""
def conv2d_forward(x, w, b, stride=1, padding=0):
    xp = F.pad(x, {pad})
    Fo, C, KH, KW = w.shape
    OH = (xp.shape[2] - KH) // {step} + 1
    OW = (xp.shape[3] - KW) // {step} + 1
    out = torch.zeros(x.shape[0], Fo, OH, OW, dtype=x.dtype, device=x.device)
    k = {kernel}
    for i in range(OH):
        for j in range(OW):
            patch = xp[:, :, i * {step}:i * {step} + KH, j * {step}:j * {step} + KW]
            out[:, :, i, j] = torch.einsum('nckl,fckl->nf', patch, k)
    return out{bias}
"""


CONV = [
    ("flipped kernel", _conv_src(kernel="w.flip(2, 3)"), "do not flip the kernel"),
    ("no bias", _conv_src(bias=""), "add the bias"),
    ("no padding", _conv_src(pad="(0, 0, 0, 0)"), "pad the input"),
    ("no stride", _conv_src(step="1"), "move the window by `stride`"),
    ("one-sided padding", _conv_src(pad="(2 * padding, 0, 2 * padding, 0)"), "pad both sides"),
    ("F.conv2d", CONV_HEAD + "def conv2d_forward(x, w, b, stride=1, padding=0):\n"
                             "    return F.conv2d(x, w, b, stride=stride, padding=padding)\n", "does not allow"),
    ("F.unfold", CONV_HEAD + """
def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    Fo, _, KH, KW = w.shape
    cols = F.unfold(x, (KH, KW), padding=padding, stride=stride)
    OH = (H + 2 * padding - KH) // stride + 1
    return (w.reshape(Fo, -1) @ cols).reshape(N, Fo, OH, -1) + b[None, :, None, None]
""", "does not allow"),
]


def _pool_src(fill="float('-inf')", reduce="amax", default="kernel_size", pad="padding"):
    return CONV_HEAD + f"""
def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    stride = {default} if stride is None else stride
    (kh, kw), (sh, sw) = pair(kernel_size), pair(stride)
    xp = F.pad(x, ({pad},) * 4, value={fill})
    windows = xp.unfold(2, kh, sh).unfold(3, kw, sw)
    return windows.{reduce}(dim=(-2, -1))
"""


POOL = [
    ("stride defaults to 1", _pool_src(default="1"), "when stride is None"),
    ("zero padding", _pool_src(fill="0.0"), "pad with -inf"),
    ("average", _pool_src(reduce="mean"), "not the mean"),
    ("no padding", _pool_src(pad="0"), "pad the input by `padding`"),
    ("F.max_pool2d", CONV_HEAD + "def maxpool2d_forward(x, kernel_size, stride=None, padding=0):\n"
                                 "    return F.max_pool2d(x, kernel_size, stride, padding)\n", "does not allow"),
]

PAIR = "    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size\n"
PARAMS = [
    ("conv2d_num_params", "no bias", "def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):\n"
     + PAIR + "    return out_channels * in_channels * kh * kw\n", "count the biases"),
    ("conv2d_num_params", "no in_channels", "def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):\n"
     + PAIR + "    return out_channels * kh * kw + out_channels * bias\n", "spans every input channel"),
    ("conv2d_num_params", "bias ignored", "def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):\n"
     + PAIR + "    return out_channels * (in_channels * kh * kw + 1)\n", "with bias=False"),
    ("conv2d_num_params", "float", "def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):\n"
     + PAIR + "    return float(out_channels * (in_channels * kh * kw + bias))\n", "return a Python int"),
    ("linear_num_params", "no bias", "def linear_num_params(in_features, out_features, bias=True):\n"
     "    return in_features * out_features\n", "count the biases"),
    ("linear_num_params", "bias per input", "def linear_num_params(in_features, out_features, bias=True):\n"
     "    return (in_features + 1 * bias) * out_features + in_features * bias - out_features * bias\n",
     "not per input feature"),
    ("linear_num_params", "bias ignored", "def linear_num_params(in_features, out_features, bias=True):\n"
     "    return (in_features + 1) * out_features\n", "with bias=False"),
]

FIELD = [
    ("strides ignored", "def receptive_field(layers):\n    r = 1\n    for k, s in layers:\n        r += k - 1\n"
                        "    return r\n", "strides matter"),
    ("own stride counted", "def receptive_field(layers):\n    r, j = 1, 1\n    for k, s in layers:\n"
                           "        j *= s\n        r += (k - 1) * j\n    return r\n", "product of the strides *before*"),
    ("sum of kernels", "def receptive_field(layers):\n    return sum(k for k, s in layers) or 1\n",
     "widens the field by k - 1"),
]

BLOCK_HEAD = "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"


def _block_src(forward, check=True, init_extra=""):
    guard = ("        if not use_1x1conv and (in_channels != out_channels or stride != 1):\n"
             "            raise ValueError('need a 1x1 convolution')\n") if check else ""
    return BLOCK_HEAD + f"""
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        super().__init__()
{guard}        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1, stride=stride) if use_1x1conv else None
{init_extra}
    def forward(self, X):
        skip = X if self.conv3 is None else self.conv3(X)
{forward}
"""


BLOCK = [
    ("no final relu", _block_src("        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))) + skip"),
     "apply the final ReLU after adding"),
    ("relu before the add", _block_src("        Y = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))))\n"
                                       "        return Y + skip"), "no ReLU between bn2 and the addition"),
    ("relu before bn", _block_src("        Y = self.bn2(self.conv2(self.bn1(F.relu(self.conv1(X)))))\n"
                                  "        return F.relu(Y + skip)"), "apply bn1 to the output of conv1"),
    ("extra relu before the add", _block_src("        Y = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))))\n"
                                             "        return F.relu(Y + skip)"), "remove the extra ReLU between bn2"),
    ("extra relu before bn1", _block_src("        Y = self.bn2(self.conv2(F.relu(self.bn1(F.relu(self.conv1(X))))))\n"
                                         "        return F.relu(Y + skip)"), "remove the extra ReLU between conv1"),
    ("no shortcut", _block_src("        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))))"),
     "add the shortcut"),
    ("no ValueError", _block_src("        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))) + skip)",
                                 check=False), "raise ValueError in __init__"),
    ("shortcut under another name", _block_src(
        "        skip = X if self.proj is None else self.proj(X)\n"
        "        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))) + skip)",
        init_extra="        self.proj, self.conv3 = self.conv3, None\n"), "it has no `conv3.weight`"),
    ("1x1 conv without stride", _block_src(
        "        skip = X if self.conv3 is None else F.conv2d(X, self.conv3.weight, self.conv3.bias)\n"
        "        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))) + skip)"),
     "the shortcut must have the shape of the main branch"),
]

RESNET_HEAD = BLOCK_HEAD + "\n".join(
    (ROOT / "solutions/unit5/resnet.py").read_text().split("\n")[4:31]) + "\n"  # the reference block only


def _resnet_src(stem_pad=3, pool="nn.MaxPool2d(3, stride=2, padding=1)", first_stride=1):
    return RESNET_HEAD + f"""
def stage(cin, cout, n, stride):
    layers = [ResidualBlock(cin, cout, use_1x1conv=(cin != cout or stride != 1), stride=stride)]
    layers += [ResidualBlock(cout, cout) for _ in range(n - 1)]
    return nn.Sequential(*layers)


class SmallResNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__()
        c1, c2, c3 = channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c1, 7, stride=2, padding={stem_pad}), nn.BatchNorm2d(c1),
                                  nn.ReLU(), {pool})
        self.stage1 = stage(c1, c1, num_blocks, {first_stride})
        self.stage2 = stage(c1, c2, num_blocks, 2)
        self.stage3 = stage(c2, c3, num_blocks, 2)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c3, num_classes)

    def forward(self, X):
        return self.fc(self.pool(self.stage3(self.stage2(self.stage1(self.stem(X))))).flatten(1))
"""


RESNET = [
    ("first stage downsamples", _resnet_src(first_stride=2), "the first stage keeps the size"),
    ("no max pooling", _resnet_src(pool="nn.Identity()"), "the stem ends with a 3x3 max pooling"),
    ("stem without padding", _resnet_src(stem_pad=0), "needs padding 3"),
]

NN_HEAD = "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"


def _lenet_src(pool="F.max_pool2d", hidden="F.relu"):
    return NN_HEAD + f"""
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5)
        self.conv2 = nn.Conv2d(8, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = {pool}(F.relu(self.conv1(x)), 2)
        x = {pool}(F.relu(self.conv2(x)), 2)
        x = {hidden}(self.fc1(x.flatten(1)))
        return self.fc3({hidden}(self.fc2(x)))
"""


def _vgg_src(padding=1, relu=True, pool=True):
    return NN_HEAD + f"""
def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for i in range(num_convs):
        layers.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding={padding}))
        {"layers.append(nn.ReLU())" if relu else "pass"}
    {"layers.append(nn.MaxPool2d(2, 2))" if pool else "pass"}
    return nn.Sequential(*layers)
"""


def _inception_src(bottleneck_relu=True, order="p1, p2, p3, p4", pool="nn.MaxPool2d(3, stride=1, padding=1)"):
    act = "F.relu" if bottleneck_relu else ""
    return NN_HEAD + f"""
class InceptionBlock(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, 1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], 1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], 3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], 1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], 5, padding=2)
        self.p4_1 = {pool}
        self.p4_2 = nn.Conv2d(in_channels, c4, 1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2({act}(self.p2_1(x))))
        p3 = F.relu(self.p3_2({act}(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat([{order}], dim=1)
"""


def _tsize_src(body, check=True):
    guard = ("    if output_padding >= max(stride, dilation) or out <= 0:\n"
             "        raise ValueError('impossible')\n") if check else ""
    return ("def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):\n"
            f"    out = {body}\n{guard}    return out\n")


RIGHT_T = "(size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1"


def _autoencoder_src(forward):
    return NN_HEAD + f"""
class ConvAutoencoder(nn.Module):
    def __init__(self, in_channels=1, hidden=(8, 16)):
        super().__init__()
        self.enc1 = nn.Conv2d(in_channels, hidden[0], 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(hidden[0], hidden[1], 3, stride=2, padding=1)
        self.dec1 = nn.ConvTranspose2d(hidden[1], hidden[0], 3, stride=2, padding=1, output_padding=1)
        self.dec2 = nn.ConvTranspose2d(hidden[0], in_channels, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
{forward}
"""


def _fine_tune_src(body):
    return NN_HEAD + "def fine_tune(backbone, num_classes, freeze=True):\n" + body


NEW_HEAD = "    backbone[-1] = nn.Linear(backbone[-1].in_features, num_classes)\n"
ARCH = [
    ("LeNet5", "average pooling", _lenet_src(pool="F.avg_pool2d"), "not average pooling"),
    ("LeNet5", "no hidden ReLU", _lenet_src(hidden=""), "apply a ReLU after fc1 and after fc2"),
    ("LeNet5", "padding 2", _lenet_src().replace("nn.Conv2d(3, 8, 5)", "nn.Conv2d(3, 8, 5, padding=2)"), None),
    ("vgg_block", "no pooling", _vgg_src(pool=False), "end the block with MaxPool2d"),
    ("vgg_block", "valid padding", _vgg_src(padding=0), "'same' padding"),
    ("vgg_block", "no ReLU", _vgg_src(relu=False), "follow every convolution with a ReLU"),
    ("InceptionBlock", "no ReLU after the bottlenecks", _inception_src(bottleneck_relu=False),
     "after each 1x1 bottleneck"),
    ("InceptionBlock", "branches reversed", _inception_src(order="p4, p3, p2, p1"), "concatenate the branches in order"),
    ("InceptionBlock", "average pooling branch", _inception_src(
        pool="nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)"), "not average pooling"),
    ("conv_transpose_output_size", "convolution formula", _tsize_src(
        "(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1"), "not the convolution's formula"),
    ("conv_transpose_output_size", "no output_padding", _tsize_src(RIGHT_T.replace(" + output_padding", "")),
     "add output_padding"),
    ("conv_transpose_output_size", "padding once", _tsize_src(RIGHT_T.replace("2 * padding", "padding")),
     "subtract 2 * padding"),
    ("conv_transpose_output_size", "no check", _tsize_src(RIGHT_T, check=False), "raise ValueError"),
    ("ConvAutoencoder", "output_padding instead of output_size", _autoencoder_src(
        "        return torch.sigmoid(self.dec2(F.relu(self.dec1(F.relu(self.enc2(F.relu(self.enc1(x))))))))"),
     "pass output_size="),
    ("ConvAutoencoder", "no sigmoid", _autoencoder_src(
        "        h = F.relu(self.enc1(x))\n"
        "        y = F.relu(self.dec1(F.relu(self.enc2(h)), output_size=h.shape[-2:]))\n"
        "        return self.dec2(y, output_size=x.shape[-2:])"), "end with a sigmoid"),
    ("fine_tune", "nothing frozen", _fine_tune_src(NEW_HEAD + "    return list(backbone[-1].parameters())\n"),
     "set requires_grad_(False)"),
    ("fine_tune", "returns every parameter", _fine_tune_src(
        "    for p in backbone.parameters():\n        p.requires_grad = not freeze\n" + NEW_HEAD
        + "    return list(backbone.parameters())\n"), "return only the parameters that are trained"),
    ("fine_tune", "head frozen too", _fine_tune_src(
        NEW_HEAD + "    for p in backbone.parameters():\n        p.requires_grad = not freeze\n"
        + "    return [p for p in backbone.parameters() if p.requires_grad]\n"),
     "the new head must stay trainable"),
    ("fine_tune", "old head kept", _fine_tune_src(
        "    for p in backbone[:-1].parameters():\n        p.requires_grad = not freeze\n"
        "    return [p for p in backbone.parameters() if p.requires_grad]\n"), "replace the last layer"),
    ("fine_tune", "returns nothing", _fine_tune_src(NEW_HEAD), "return the parameters to optimise as a list"),
    ("fine_tune", "optimises a copy", _fine_tune_src(
        "    import copy\n    model = copy.deepcopy(backbone)\n"
        "    model[-1] = nn.Linear(model[-1].in_features, num_classes)\n"
        "    return list(model[-1].parameters())\n"), "last layer replaced by a new one: got False"),
]

CATALOGUE = ([("conv_output_size", *row) for row in SIZE] + [("conv2d_forward", *row) for row in CONV]
             + [("maxpool2d_forward", *row) for row in POOL] + list(PARAMS)
             + [("receptive_field", *row) for row in FIELD] + [("ResidualBlock", *row) for row in BLOCK]
             + [("small_resnet", *row) for row in RESNET] + list(ARCH))


@pytest.mark.parametrize("exercise, label, source, hint", CATALOGUE,
                         ids=[f"{e}: {label}" for e, label, _, _ in CATALOGUE])
def test_typical_mistake_gets_its_hint(exercise, label, source, hint):
    assert_fails_with("unit5", exercise, source, None, hint)


# the references against PyTorch's layers, directly -----------------------
def test_conv_and_pool_match_pytorch():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 11, 9, generator=gen, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 2, generator=gen, dtype=torch.float64)
    b = torch.randn(4, generator=gen, dtype=torch.float64)
    for stride, padding in ((1, 0), (2, 1), (3, 2)):
        torch.testing.assert_close(REF["conv2d_forward"](x, w, b, stride, padding), F.conv2d(x, w, b, stride, padding))
        assert REF["conv_output_size"](11, 3, stride, padding) == F.conv2d(x, w, b, stride, padding).shape[2]
    torch.testing.assert_close(REF["maxpool2d_forward"](x - 2, 3, 2, 1), F.max_pool2d(x - 2, 3, 2, 1))
    torch.testing.assert_close(REF["maxpool2d_forward"](x, (2, 3)), F.max_pool2d(x, (2, 3)))


def test_counts_match_pytorch_layers():
    for cin, cout, k, bias in ((3, 100, 5, True), (16, 32, (3, 5), False)):
        layer = torch.nn.Conv2d(cin, cout, k, bias=bias)
        assert REF["conv2d_num_params"](cin, cout, k, bias) == sum(p.numel() for p in layer.parameters())
    assert REF["linear_num_params"](6400, 7) == sum(p.numel() for p in torch.nn.Linear(6400, 7).parameters())
    assert REF["receptive_field"]([(3, 1), (3, 1)]) == 5


def test_resnet_shapes_follow_the_lecture():
    block = REF["ResidualBlock"]
    assert block(3, 3)(torch.zeros(10, 3, 32, 32)).shape == (10, 3, 32, 32)
    assert block(3, 6, use_1x1conv=True, stride=2)(torch.zeros(10, 3, 32, 32)).shape == (10, 6, 16, 16)
    with pytest.raises(ValueError):
        block(3, 6)
    model = REF["SmallResNet"](channels=(8, 16, 32)).eval()
    with torch.no_grad():
        X = torch.zeros(2, 3, 64, 64)
        A = model.stem(X)
        shapes = [A.shape, model.stage1(A).shape]
        assert shapes == [(2, 8, 16, 16), (2, 8, 16, 16)]
        assert model(X).shape == (2, 10)


def test_lenet5_matches_the_slides():
    model = REF["LeNet5"]()
    counts = [sum(p.numel() for p in getattr(model, n).parameters()) for n in ("conv1", "conv2", "fc1", "fc2", "fc3")]
    assert counts == [608, 3216, 48120, 10164, 850]
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_blocks_keep_or_halve_the_size():
    assert REF["vgg_block"](2, 3, 8)(torch.zeros(1, 3, 9, 10)).shape == (1, 8, 4, 5)
    block = REF["InceptionBlock"](8, 4, (3, 6), (2, 3), 2)
    assert block(torch.zeros(2, 8, 7, 5)).shape == (2, 4 + 6 + 3 + 2, 7, 5)


def test_transposed_sizes_match_pytorch():
    size_of = REF["conv_transpose_output_size"]
    for size, k, s, p, op, d in ((7, 3, 2, 1, 1, 1), (5, 4, 3, 2, 2, 1), (9, 3, 1, 2, 1, 2), (1, 1, 1, 0, 0, 1)):
        y = F.conv_transpose1d(torch.zeros(1, 1, size), torch.zeros(1, 1, k), stride=s, padding=p,
                               output_padding=op, dilation=d)
        assert size_of(size, k, s, p, op, d) == y.shape[-1]
    for bad in ((3, 3, 2, 1, 2, 1), (1, 1, 1, 1, 0, 1)):
        with pytest.raises(ValueError):
            size_of(*bad)


def test_autoencoder_restores_every_shape():
    model = REF["ConvAutoencoder"](in_channels=3)
    for h, w in ((28, 28), (13, 11), (1, 2), (30, 17)):
        assert model(torch.rand(2, 3, h, w)).shape == (2, 3, h, w)


def test_fine_tune_freezes_the_body_and_returns_the_head():
    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    body = backbone[0].weight
    params = REF["fine_tune"](backbone, 7)
    assert backbone[-1].out_features == 7 and backbone[0].weight is body
    assert [p.requires_grad for p in backbone.parameters()] == [False, False, True, True]
    assert [id(p) for p in params] == [id(p) for p in backbone[-1].parameters()]
    assert len(REF["fine_tune"](backbone, 2, freeze=False)) == 4


def _course_module(name):
    """A module of solutions/unit5 as the grader loads it (checks, mistakes)."""
    from grader.config import load_course
    from grader.spec.loader import load_unit_spec

    course = load_course(ROOT)
    load_unit_spec(course, course.unit("unit5"))
    return sys.modules[f"_grader_course.unit5.{name}"]


def _transfer_run(fn):
    """The transfer case in this process: the driver on fn, then the trusted measurement."""
    from grader import drivers
    from grader.drivers import finetune

    checks = _course_module("checks")
    case = next(c for c in checks.fine_tune_cases(np.random.default_rng(0)) if c.driver == "transfer_digits")
    ctx = drivers.DriverContext(device="cpu", seed=1)
    raw = drivers.get("transfer_digits")({"fine_tune": fn}, dict(case.inputs), ctx)
    trusted = case.trusted_inputs(case.inputs)
    return finetune.transfer_report(raw, trusted, ctx), case.measure(raw, trusted, ctx), case.oracle(trusted, ctx)


def test_transfer_case_beats_training_from_scratch_with_the_reference_only():
    report, measured, expected = _transfer_run(REF["fine_tune"])
    assert measured == expected and report["gain"] > 0.1
    report, measured, expected = _transfer_run(_course_module("mistakes").fine_tune_old_head)
    assert measured != expected and report["gain"] < 0.05


@pytest.mark.parametrize("body, message", [
    ("    backbone[-1] = nn.Linear(backbone[-1].in_features, num_classes)\n"
     "    for p in backbone.parameters():\n        p.requires_grad_(False)\n"
     "    return list(backbone[-1].parameters())\n", "none of the parameters"),
    ("    backbone[-1] = nn.Sequential(nn.Linear(backbone[-1].in_features, num_classes))\n"
     "    return list(backbone[-1].parameters())\n", "replace only the last one"),
    ("    return [torch.zeros(3, requires_grad=True)]\n", "not a parameter of the backbone"),
])
def test_transfer_driver_rejects_what_it_cannot_train(body, message):
    namespace = {}
    exec(_fine_tune_src(body), namespace)  # noqa: S102
    with pytest.raises(BadOutput, match=message):
        _transfer_run(namespace["fine_tune"])
