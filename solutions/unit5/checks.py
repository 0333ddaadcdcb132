"""Checks for Unit 5: convolution arithmetic, convolution and pooling by hand, residual blocks, a small ResNet,
classic architectures (LeNet-5, VGG blocks, Inception), transposed convolutions and fine-tuning.

Convolution and pooling are compared with F.conv2d and F.max_pool2d; the
modules are compared with the reference modules of resnet.py through the
`module` drivers, with the reference's weights sent as inputs.
"""
import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from grader.drivers import finetune
from grader.drivers.attacks import one_thread
from grader.digits import digits_arrays
from grader.spec import Case, Exercise, Mistake, call_inputs

from . import mistakes as m
from .architectures import ConvAutoencoder, InceptionBlock, LeNet5, vgg_block
from .resnet import ResidualBlock, SmallResNet

# A check whose answer is known in advance ("raises ValueError") could be faked by a worker that
# patches the grader's own code, so it weighs little: under a tenth of its exercise (docs/security.md).
PREDICTABLE = 0.3

DTYPES = (np.float32, np.float64)
NAME = {np.float32: "float32", np.float64: "float64"}
LOOSE = {np.float32: 1e-5, np.float64: None}  # float32 sums run in other orders on other devices


def _normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _mistakes(fn, pairs):
    return tuple(Mistake(hint, {fn: wrong}) for hint, wrong in pairs)


# conv_output_size ---------------------------------------------------------
SIZES = (  # (size, kernel_size, stride, padding, dilation)
    (32, 5, 2, 0, 1),    # the lecture's first convolution: 14
    (14, 2, 2, 1, 1),    # its pooling layer: 8
    (64, 7, 2, 3, 1),    # ResNet stem: 32
    (32, 3, 2, 1, 1),    # max pooling after the stem: 16 (16.5 floored)
    (28, 5, 1, 0, 1),
    (28, 3, 1, 1, 1),
    (10, 3, 3, 0, 1),
    (10, 3, 1, 0, 2),
    (9, 3, 2, 2, 3),
    (5, 5, 1, 0, 1),
)
TOO_SMALL = ((3, 5, 1, 0, 1), (4, 5, 1, 0, 1), (5, 3, 1, 0, 3))


SIZE_MISTAKES = (m.size_no_plus_one, m.size_ceil, m.size_padding_once, m.size_no_dilation)


def _outcome(fn, row):
    try:
        return fn(*row)
    except ValueError:
        return "raises"


def _telling(row):
    """Every catalogued mistake that is wrong on this row is wrong in its own way (so its hint is the right one)."""
    right = (row[0] + 2 * row[3] - row[4] * (row[1] - 1) - 1) // row[2] + 1
    wrong = [v for v in (_outcome(fn, row) for fn in SIZE_MISTAKES) if v != right]
    return len(set(wrong)) == len(wrong)


def drawn_sizes(rng, n=10):
    """Rows drawn from the seed: every stride, padding and dilation, an output of at least 1."""
    rows = []
    while len(rows) < n:
        i = len(rows)
        stride, dilation = 1 + i % 3, (1, 1, 2, 3)[i % 4]
        kernel = int(rng.integers(1, 8))
        span = dilation * (kernel - 1) + 1            # pixels the dilated kernel covers
        padding = int(rng.integers(0, span // 2 + 1))
        size = int(rng.integers(max(1, span - 2 * padding), 97))
        if _telling((size, kernel, stride, padding, dilation)):
            rows.append((size, kernel, stride, padding, dilation))
    return rows


def size_cases(rng):
    names = ("size", "kernel_size", "stride", "padding", "dilation")
    cases = []
    for values in SIZES:   # the lecture's layers: public examples, left out of the hidden cases
        args = dict(zip(names, values))
        cases.append(Case(", ".join(f"{k}={v}" for k, v in args.items()), call_inputs("conv_output_size", args),
                          driver="call_int", public_only=True))
    for values in drawn_sizes(rng):
        args = dict(zip(names, values))
        cases.append(Case(", ".join(f"{k}={v}" for k, v in args.items()), call_inputs("conv_output_size", args),
                          driver="call_int"))
    size, kernel = int(rng.integers(8, 65)), int(rng.integers(2, 8))
    cases.append(Case("stride, padding and dilation default to 1, 0, 1",
                      call_inputs("conv_output_size", {"size": size, "kernel_size": kernel}), driver="call_int"))
    for values in TOO_SMALL:
        args = dict(zip(names, values))
        cases.append(Case(f"size={values[0]}, kernel_size={values[1]}, dilation={values[4]} raises ValueError",
                          {**call_inputs("conv_output_size", args), "expect": "ValueError"}, driver="call_raises",
                          weight=PREDICTABLE))
    return cases


# conv2d_forward -----------------------------------------------------------
def _precise():
    """cuDNN without TF32, so that a float32 reference is accurate on a GPU too."""
    return torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False)


def conv_oracle(inputs, ctx):
    x, w, b = (ctx.convert(a) for a in inputs["args"])
    with _precise():
        return F.conv2d(x, w, b, **inputs["kwargs"])


CONV_SHAPES = (  # name, x shape, w shape, stride, padding
    ("3x3 kernel", (2, 3, 7, 7), (4, 3, 3, 3), 1, 0),
    ("3x3 kernel, stride 2, padding 1", (2, 3, 8, 8), (5, 3, 3, 3), 2, 1),
    ("2x3 kernel, stride 2 on a 9x8 input (does not divide evenly)", (2, 3, 9, 8), (4, 3, 2, 3), 2, 0),
    ("3x2 kernel, stride 3, padding 2 on 10x11", (1, 2, 10, 11), (3, 2, 3, 2), 3, 2),
    ("1x1 kernel", (3, 4, 5, 6), (2, 4, 1, 1), 1, 0),
    ("kernel as large as the input", (2, 2, 5, 5), (3, 2, 5, 5), 1, 0),
    ("one input channel, 5x5 kernel, padding 2", (2, 1, 6, 6), (2, 1, 5, 5), 1, 2),
    ("the lecture's layer: 5x5, stride 2 on 32x32", (2, 3, 32, 32), (8, 3, 5, 5), 2, 0),
)


def conv_cases(rng):
    cases = []
    for dtype in DTYPES:
        for name, xs, ws, stride, padding in CONV_SHAPES:
            args = {"x": _normal(rng, xs, dtype), "w": _normal(rng, ws, dtype), "b": _normal(rng, ws[:1], dtype)}
            cases.append(Case(f"{name}, {NAME[dtype]}",
                              call_inputs("conv2d_forward", args, stride=stride, padding=padding),
                              rtol=LOOSE[dtype], atol=LOOSE[dtype], oracle=conv_oracle))
    args = {"x": _normal(rng, (2, 2, 6, 5), np.float64), "w": _normal(rng, (3, 2, 3, 3), np.float64),
            "b": _normal(rng, (3,), np.float64)}
    cases.append(Case("stride and padding default to 1 and 0", call_inputs("conv2d_forward", args),
                      oracle=conv_oracle))
    return cases


# maxpool2d_forward --------------------------------------------------------
def pool_oracle(inputs, ctx):
    (x,) = (ctx.convert(a) for a in inputs["args"])
    return F.max_pool2d(x, **inputs["kwargs"])


POOLS = (  # name, x shape, kernel_size, stride, padding
    ("2x2, stride 2", (2, 3, 8, 8), 2, 2, 0),
    ("3x3, stride 2, padding 1 (the ResNet stem)", (2, 2, 9, 9), 3, 2, 1),
    ("3x3, stride 2 on 8x7 (does not divide evenly)", (1, 3, 8, 7), 3, 2, 0),
    ("2x2, stride 2, padding 1 (the lecture's layer)", (2, 4, 14, 14), 2, 2, 1),
    ("(2, 3) kernel, stride (2, 1)", (2, 2, 6, 7), (2, 3), (2, 1), 1),
    ("3x3, stride 1", (1, 2, 5, 6), 3, 1, 0),
)


def pool_cases(rng):
    cases = []
    for dtype in DTYPES:
        for name, xs, k, s, p in POOLS:
            x = _normal(rng, xs, dtype) - 1.0   # mostly negative, so zero padding would show
            cases.append(Case(f"{name}, {NAME[dtype]}",
                              call_inputs("maxpool2d_forward", {"x": x}, kernel_size=k, stride=s, padding=p),
                              oracle=pool_oracle))
    x = _normal(rng, (2, 3, 7, 9), np.float64)
    cases.append(Case("stride defaults to kernel_size", call_inputs("maxpool2d_forward", {"x": x}, kernel_size=3),
                      oracle=pool_oracle))
    x = -np.abs(_normal(rng, (1, 2, 5, 5), np.float64)) - 0.5
    cases.append(Case("all-negative input with padding 1",
                      call_inputs("maxpool2d_forward", {"x": x}, kernel_size=2, stride=2, padding=1),
                      oracle=pool_oracle))
    return cases


# parameter counts ---------------------------------------------------------
def conv_params_cases(rng):
    rows = (  # in, out, kernel, bias
        (3, 100, 5, True),          # the lecture's first convolution: 7600
        (1, 6, 5, True), (6, 16, 5, True), (64, 128, 3, True), (64, 128, 1, True),
        (3, 64, 7, False), (16, 32, (3, 5), True), (4, 8, (1, 3), False),
    )
    drawn = []   # from the seed: public and hidden cases differ
    for i in range(8):
        k = int(rng.integers(1, 8)) if i % 2 else (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        drawn.append((int(rng.integers(1, 257)), int(rng.integers(1, 257)), k, i % 3 != 2))
    cases = []
    for index, (cin, cout, k, bias) in enumerate([*rows, *drawn]):
        args = {"in_channels": cin, "out_channels": cout, "kernel_size": k}
        cases.append(Case(f"Conv2d({cin}, {cout}, kernel_size={k}, bias={bias})",
                          call_inputs("conv2d_num_params", args, bias=bias), driver="call_int",
                          public_only=index < len(rows)))   # the lecture's layers: public examples
    args = {"in_channels": int(rng.integers(1, 65)), "out_channels": int(rng.integers(1, 65)),
            "kernel_size": int(rng.integers(1, 6))}
    cases.append(Case("bias defaults to True", call_inputs("conv2d_num_params", args), driver="call_int"))
    return cases


def linear_params_cases(rng):
    rows = ((6400, 7, True), (7, 10, True), (400, 120, True), (120, 84, True), (84, 10, False), (1, 1, True))
    drawn = [(int(rng.integers(1, 10001)), int(rng.integers(1, 2001)), i % 3 != 2) for i in range(6)]
    cases = [Case(f"Linear({i}, {o}, bias={b})",
                  call_inputs("linear_num_params", {"in_features": i, "out_features": o}, bias=b), driver="call_int",
                  public_only=index < len(rows))   # the lecture's layers: public examples
             for index, (i, o, b) in enumerate([*rows, *drawn])]
    args = {"in_features": int(rng.integers(1, 1001)), "out_features": int(rng.integers(1, 1001))}
    cases.append(Case("bias defaults to True", call_inputs("linear_num_params", args), driver="call_int"))
    return cases


# receptive_field ----------------------------------------------------------
def field_cases(rng):
    stacks = (
        ("no layers", []),
        ("one 3x3 convolution", [(3, 1)]),
        ("two 3x3 convolutions", [(3, 1), (3, 1)]),
        ("5x5 stride 2, then 2x2 pooling stride 2", [(5, 2), (2, 2)]),
        ("ResNet stem, pooling and two 3x3 convolutions", [(7, 2), (3, 2), (3, 1), (3, 1)]),
        ("three 3x3 stride-2 convolutions", [(3, 2), (3, 2), (3, 2)]),
        ("1x1 convolutions only", [(1, 1), (1, 2), (1, 1)]),
    )
    cases = [Case(name, call_inputs("receptive_field", {"layers": layers}), driver="call_int",
                  public_only=bool(layers)) for name, layers in stacks]
    for i in range(6):   # from the seed: public and hidden cases differ
        layers = [(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(3 + i % 3)]
        text = ", ".join(f"{k}x{k} stride {s}" for k, s in layers)
        cases.append(Case(f"{len(layers)} layers: {text}", call_inputs("receptive_field", {"layers": layers}),
                          driver="call_int"))
    return cases


# ResidualBlock ------------------------------------------------------------
BLOCK_CONFIGS = (  # in, out, use_1x1conv, stride, input shape
    (3, 3, False, 1, (10, 3, 32, 32)),      # the lecture's first block
    (3, 6, True, 2, (10, 3, 32, 32)),       # the lecture's second block
    (4, 4, True, 1, (2, 4, 9, 9)),
    (4, 8, True, 1, (2, 4, 8, 8)),
    (2, 2, True, 2, (3, 2, 7, 7)),
    (5, 3, True, 3, (2, 5, 10, 11)),
)
IMPOSSIBLE = ((3, 6, False, 1), (4, 4, False, 2), (3, 6, False, 2))


def _block_inputs(cin, cout, use_1x1, stride):
    return {"cls": "ResidualBlock", "args": [cin, cout], "kwargs": {"use_1x1conv": use_1x1, "stride": stride}}


def _title(cin, cout, use_1x1, stride):
    return f"ResidualBlock({cin}, {cout}, use_1x1conv={use_1x1}, stride={stride})"


def random_state(rng, model):
    """The reference module's state_dict with fresh values: weights, biases and running statistics."""
    state = {}
    for name, value in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = int(rng.integers(0, 100))  # a number: the wire sends 0-d arrays as shape (1,)
        elif name.endswith("running_var"):
            state[name] = rng.uniform(0.5, 2.0, size=tuple(value.shape))
        elif name.endswith(".weight") and value.dim() == 1:   # batch-norm scale
            state[name] = rng.uniform(0.5, 1.5, size=tuple(value.shape))
        else:
            fan_in = int(np.prod(value.shape[1:])) if value.dim() > 1 else 4
            state[name] = rng.standard_normal(tuple(value.shape)) / np.sqrt(fan_in)
    return state


def _module_case(rng, name, inputs, model, x_shape, report, weight=1.0):
    x = rng.standard_normal(x_shape)
    full = {**inputs, "x": x, "report": list(report), "dtype": "float64"}
    if set(report) & {"eval", "train", "grads"}:
        full["state"] = random_state(rng, model)
    if "grads" in report:
        with torch.no_grad():
            model.eval()
            out_shape = tuple(model(torch.zeros(x_shape)).shape)
        full["cotangent"] = rng.standard_normal(out_shape)
    return Case(name, full, driver="module", weight=weight)


def block_cases(rng):
    cases = []
    for cin, cout, use_1x1, stride, shape in BLOCK_CONFIGS:
        title = _title(cin, cout, use_1x1, stride)
        inputs = _block_inputs(cin, cout, use_1x1, stride)
        cases.append(Case(f"{title}: output shape on {list(shape)}", {**inputs, "x": _normal(rng, shape, np.float32),
                                                                       "report": ["shape"]}, driver="module"))
    for cin, cout, use_1x1, stride, _shape in BLOCK_CONFIGS[:3]:
        title = _title(cin, cout, use_1x1, stride)
        inputs = _block_inputs(cin, cout, use_1x1, stride)
        model = ResidualBlock(cin, cout, use_1x1, stride)
        small = (2, cin, 6, 6)
        cases.append(_module_case(rng, f"{title}: submodules and parameter count", inputs, model, small,
                                  ("structure", "num_params")))
        cases.append(_module_case(rng, f"{title}: same outputs in train and eval mode with the reference's weights",
                                  inputs, model, small, ("eval", "train")))
        cases.append(_module_case(rng, f"{title}: gradients of the input and every parameter", inputs, model,
                                  small, ("grads",)))
    for cin, cout, use_1x1, stride in IMPOSSIBLE:
        cases.append(Case(f"{_title(cin, cout, use_1x1, stride)} cannot add its shortcut: raises ValueError",
                          {**_block_inputs(cin, cout, use_1x1, stride), "x": _normal(rng, (2, cin, 8, 8), np.float32)},
                          driver="module_raises", weight=PREDICTABLE))
    return cases


# small_resnet -------------------------------------------------------------
TRACE = ["stem", "stage1", "stage2", "stage3", "pool", "fc"]
SMALL = {"channels": (4, 8, 16), "num_blocks": 1}


def resnet_cases(rng):
    cases = [Case("the lecture quiz: feature shapes for an input of [32, 3, 64, 64]",
                  {"cls": "SmallResNet", "args": [], "kwargs": {}, "x": _normal(rng, (32, 3, 64, 64), np.float32),
                   "trace": TRACE}, driver="module_trace", weight=2.0),
             Case("feature shapes for one-channel 28x28 images, 5 classes, channels (8, 16, 32)",
                  {"cls": "SmallResNet", "args": [], "kwargs": {"in_channels": 1, "num_classes": 5,
                                                                 "channels": (8, 16, 32), "num_blocks": 1},
                   "x": _normal(rng, (2, 1, 28, 28), np.float32), "trace": TRACE}, driver="module_trace")]
    inputs = {"cls": "SmallResNet", "args": [], "kwargs": {}}
    cases.append(_module_case(rng, "SmallResNet(): submodules and parameter count", inputs, SmallResNet(),
                              (1, 3, 32, 32), ("structure", "num_params")))
    inputs = {"cls": "SmallResNet", "args": [], "kwargs": dict(SMALL)}
    model = SmallResNet(**SMALL)
    cases.append(_module_case(rng, "SmallResNet(channels=(4, 8, 16), num_blocks=1): same outputs as the "
                              "reference with its weights", inputs, model, (2, 3, 32, 32), ("eval", "train")))
    cases.append(_module_case(rng, "SmallResNet(channels=(4, 8, 16), num_blocks=1): gradients", inputs, model,
                              (2, 3, 32, 32), ("grads",)))
    return cases


# LeNet5, vgg_block, InceptionBlock, ConvAutoencoder -----------------------
def _module_cases(rng, title, inputs, model, shapes, small, report=("eval", "train"),
                  counted=("structure", "num_params"), grads=True):
    """Output shapes on `shapes`, then structure and count, outputs with the reference's weights, gradients."""
    cases = [Case(f"{title}: output shape on {list(shape)}", {**inputs, "x": _normal(rng, shape, np.float32),
                                                              "report": ["shape"]}, driver="module")
             for shape in shapes]
    what = "submodules and parameter count" if "structure" in counted else "parameter count"
    cases.append(_module_case(rng, f"{title}: {what}", inputs, model, small, counted))
    cases.append(_module_case(rng, f"{title}: same outputs as the reference with its weights", inputs, model, small,
                              report))
    if grads:
        cases.append(_module_case(rng, f"{title}: gradients of the input and every parameter", inputs, model, small,
                                  ("grads",)))
    return cases


def lenet_cases(rng):
    inputs = {"cls": "LeNet5", "args": [], "kwargs": {}}
    return _module_cases(rng, "LeNet5()", inputs, LeNet5(), [(4, 3, 32, 32)], (2, 3, 32, 32))


def vgg_cases(rng):
    cases = []
    for num_convs, cin, cout, shape in ((2, 4, 6, (2, 4, 9, 10)),
                                        (3, int(rng.integers(1, 5)), int(rng.integers(2, 7)), None)):
        shape = shape or (2, cin, int(rng.integers(4, 12)), int(rng.integers(4, 12)))
        inputs = {"cls": "vgg_block", "args": [num_convs, cin, cout], "kwargs": {}}
        cases += _module_cases(rng, f"vgg_block({num_convs}, {cin}, {cout})", inputs, vgg_block(num_convs, cin, cout),
                               [shape], shape, ("eval",), grads=num_convs == 3)
    return cases


def inception_cases(rng):
    c = [int(v) for v in rng.integers(1, 6, size=6)]
    cases = []
    for args, shape in (([8, 4, [3, 6], [2, 3], 2], (2, 8, 7, 6)),
                        ([int(rng.integers(2, 6)), c[0], c[1:3], c[3:5], c[5]], None)):
        shape = shape or (2, args[0], int(rng.integers(3, 9)), int(rng.integers(3, 9)))
        title = "InceptionBlock({}, {}, ({}, {}), ({}, {}), {})".format(args[0], args[1], *args[2], *args[3], args[4])
        inputs = {"cls": "InceptionBlock", "args": args, "kwargs": {}}
        cases += _module_cases(rng, title, inputs, InceptionBlock(*args), [shape], shape, ("eval",))
    return cases


# output_size= in forward overrides a layer's output_padding, so the layers' settings are not compared
FREE_PADDING = ("num_params",)


def autoencoder_cases(rng):
    inputs = {"cls": "ConvAutoencoder", "args": [], "kwargs": {}}
    cases = _module_cases(rng, "ConvAutoencoder()", inputs, ConvAutoencoder(),
                          [(2, 1, 28, 28), (2, 1, 13, 11), (1, 1, int(rng.integers(5, 30)), int(rng.integers(5, 30)))],
                          (2, 1, 9, 12), ("eval",), counted=FREE_PADDING)
    inputs = {"cls": "ConvAutoencoder", "args": [], "kwargs": {"in_channels": 3, "hidden": [4, 6]}}
    cases += _module_cases(rng, "ConvAutoencoder(in_channels=3, hidden=(4, 6))", inputs,
                           ConvAutoencoder(in_channels=3, hidden=(4, 6)), [(2, 3, 10, 7)], (2, 3, 8, 7), ("eval",),
                           counted=FREE_PADDING, grads=False)
    return cases


# conv_transpose_output_size -------------------------------------------------
TRANSPOSE_NAMES = ("size", "kernel_size", "stride", "padding", "output_padding", "dilation")
TRANSPOSE_SIZES = (  # the autoencoder's decoder, and what undoes the lecture's layers
    (7, 3, 2, 1, 1, 1), (14, 3, 2, 1, 1, 1), (4, 2, 2, 0, 0, 1), (14, 5, 2, 0, 1, 1), (5, 3, 1, 1, 0, 1),
)
TRANSPOSE_RAISES = ((3, 3, 2, 1, 2, 1), (4, 3, 1, 0, 1, 1), (1, 1, 1, 1, 0, 1))


def transpose_oracle(inputs, ctx):
    """The length PyTorch's transposed convolution produces."""
    args = dict(zip(inputs["arg_names"], inputs["args"]), **inputs["kwargs"])
    x = torch.zeros(1, 1, args["size"])
    w = torch.zeros(1, 1, args["kernel_size"])
    y = F.conv_transpose1d(x, w, stride=args.get("stride", 1), padding=args.get("padding", 0),
                           output_padding=args.get("output_padding", 0), dilation=args.get("dilation", 1))
    return int(y.shape[-1])


def transpose_cases(rng):
    cases = []
    drawn = []
    for i in range(8):   # from the seed: public and hidden cases differ
        stride, dilation = 1 + i % 3, 1 + (i // 2) % 3
        kernel = int(rng.integers(1, 8))
        padding = int(rng.integers(0, (dilation * (kernel - 1)) // 2 + 1))
        drawn.append((int(rng.integers(1, 40)), kernel, stride, padding, int(rng.integers(0, max(stride, dilation))),
                      dilation))
    for index, values in enumerate([*TRANSPOSE_SIZES, *drawn]):
        args = dict(zip(TRANSPOSE_NAMES, values))
        cases.append(Case(", ".join(f"{k}={v}" for k, v in args.items()),
                          call_inputs("conv_transpose_output_size", args), driver="call_int", oracle=transpose_oracle,
                          public_only=index < len(TRANSPOSE_SIZES)))
    size, kernel = int(rng.integers(2, 30)), int(rng.integers(1, 8))
    cases.append(Case("stride, padding, output_padding and dilation default to 1, 0, 0, 1",
                      call_inputs("conv_transpose_output_size", {"size": size, "kernel_size": kernel}),
                      driver="call_int", oracle=transpose_oracle))
    for values in TRANSPOSE_RAISES:
        args = dict(zip(TRANSPOSE_NAMES, values))
        cases.append(Case(", ".join(f"{k}={v}" for k, v in args.items()) + " raises ValueError",
                          {**call_inputs("conv_transpose_output_size", args), "expect": "ValueError"},
                          driver="call_raises", weight=PREDICTABLE))
    return cases


# fine_tune ------------------------------------------------------------------
# Structural cases on small MLP backbones, then an end-to-end transfer case (transfer_case below).
def fine_tune_cases(rng):
    cases = []
    for sizes, num_classes, freeze in (((64, 32, 16, 5), 5, True), ((64, 32, 16, 5), 5, False),
                                       ((10, 8, 3), 7, True), ((6, 12, 9, 4), 2, False)):
        backbone = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            backbone += [_normal(rng, (fan_out, fan_in), np.float32, 1 / np.sqrt(fan_in)),
                         _normal(rng, (fan_out,), np.float32, 0.1)]
        layers = " -> ".join(map(str, sizes))
        cases.append(Case(f"backbone {layers}, num_classes={num_classes}, freeze={freeze}",
                          {"fn": "fine_tune", "backbone": backbone, "num_classes": num_classes,
                           "kwargs": {"freeze": freeze}, "x": _normal(rng, (3, sizes[0]), np.float32)},
                          driver="fine_tune"))
    return cases + [transfer_case(TRANSFER_DRAW, TRANSFER_SHOTS)]


# The transfer case: grader.drivers.finetune.digits_cnn, pre-trained on scikit-learn's digits 0-4 (the
# weights ship in digits_backbone.npz, written by `python bench/transfer_calibration.py --write-backbone`:
# 20 epochs, each image moved by up to one pixel every epoch), goes to the worker with TRANSFER_SHOTS
# labelled images of each digit 5-9; the student's fine_tune(backbone, 5, freeze=True) replaces the
# head and what it returns is trained there (Adam, TRANSFER_EPOCHS full-batch steps). The weights
# come back and are measured here on the other images of 5-9, each moved by up to one pixel (a harder
# test than the centred training images; Case.private: never sent to the worker), next to the same
# network trained from scratch on the same images, here. Only the case's images are public.
#
# Calibration (`python bench/transfer_calibration.py`: draws 0-7 of 2 images per digit, each measured as
# the check does; worst / mean / best draw): accuracy fine-tuned 0.579 / 0.647 / 0.707, from scratch
# 0.459 / 0.527 / 0.593; gain on the same images +0.070 / +0.120 / +0.179. The check's draw 0 gives
# 0.589 against 0.459 (+0.130); other initial heads (seeds 0-7) give 0.572-0.640. The targets sit 0.08
# (accuracy) and 0.02 (gain) below the worst draw, 0.09 and 0.08 below draw 0. Keeping the pre-trained
# head (fine_tune_old_head) gives 0.489 and +0.029 on draw 0 (gain -0.042 / +0.015 / +0.063 over the
# draws); the other mistakes train the same parameters as the reference here, the structural cases catch
# them. Training every layer at this learning rate gives 0.554 (+0.095). Head-only fine-tuning of a
# smaller network on centred test images does not beat training from scratch (with 1-5 images per digit
# the means agree within 0.015): the shifted test and the shift-augmented pre-training make the gap.
# The worker's part takes 0.03 s, the trusted one (training from scratch, two evaluations) about 0.1 s.
TRANSFER_SHOTS = 2
TRANSFER_EPOCHS = 50
TRANSFER_LR = 0.01
TRANSFER_DRAW = 0
TRANSFER_TARGETS = {"fine-tuned": 0.50, "gain": 0.05}
BACKBONE_PATH = Path(__file__).resolve().parent / "digits_backbone.npz"


def _digits():
    """scikit-learn's 8x8 digits as (N, 1, 8, 8) float32 images in [0, 1] and int64 labels."""
    X, y = digits_arrays()
    return X.reshape(-1, 1, 8, 8), y


@functools.lru_cache(maxsize=1)
def _backbone():
    with np.load(BACKBONE_PATH) as saved:
        return [saved[f"arr_{i}"].astype(np.float32) for i in range(len(saved.files))]


def transfer_case(draw, shots):
    """`shots` images of each digit 5-9 (labels 0-4), drawn with seed `draw`; the others, shifted, test."""
    X, y = _digits()
    new = np.flatnonzero(y >= 5)
    rng = np.random.default_rng(draw)
    rows = np.concatenate([rng.choice(new[y[new] == c], shots, replace=False) for c in range(5, 10)])
    test = np.setdiff1d(new, rows)
    with one_thread():
        X_test = finetune.shift_images(torch.from_numpy(X[test]), torch.Generator().manual_seed(2026)).numpy()
    inputs = {"fn": "fine_tune", "backbone": _backbone(), "X_train": X[rows], "y_train": y[rows] - 5,
              "epochs": TRANSFER_EPOCHS, "lr": TRANSFER_LR, "seed": draw}
    private = {"X_test": X_test, "y_test": y[test] - 5, "targets": TRANSFER_TARGETS, "train_images": len(rows)}
    return Case(f"a CNN pre-trained on digits 0-4, fine-tuned (freeze=True) on {shots} images of each digit 5-9, "
                "against the same network trained from scratch on them", inputs, driver="transfer_digits",
                timeout=30, measure=finetune.measure_transfer, oracle=finetune.transfer_met, private=private)


# Forbidden shortcuts are families (grader/static/families.py): every spelling of the operation.
CONV_SHORTCUTS = ("convolution", "windows")  # F.conv2d, torch.convolution, nn.Conv2d...; F.unfold, F.fold
POOL_SHORTCUTS = ("pooling", "windows")  # F.max_pool2d, nn.MaxPool2d, F.adaptive_*pool*...; F.unfold
ONE_BY_ONE = ("without a 1x1 convolution the shortcut is x itself: when the channels or the stride change, "
              "raise ValueError in __init__ (the addition is impossible)")

EXERCISES = [
    Exercise(
        name="conv_output_size",
        entry=("conv_output_size",),
        cases=size_cases,
        mistakes=_mistakes("conv_output_size", (
            ("add 1 after the division: the first window sits at position 0", m.size_no_plus_one),
            ("round down (floor): a window that does not fit completely is not used", m.size_ceil),
            ("padding is added on both sides: size + 2 * padding", m.size_padding_once),
            ("a dilated kernel spans dilation * (kernel_size - 1) + 1 pixels", m.size_no_dilation),
            ("raise ValueError when the output size is 0 or negative", m.size_no_check),
        )),
    ),
    Exercise(
        name="conv2d_forward",
        entry=("conv2d_forward",),
        cases=conv_cases,
        forbidden=CONV_SHORTCUTS,
        forbidden_hint="build the windows yourself (slicing or Tensor.unfold) and multiply them with w",
        mistakes=_mistakes("conv2d_forward", (
            ("do not flip the kernel: a convolution layer computes a cross-correlation", m.conv_flipped),
            ("add the bias b[f] to every position of output channel f", m.conv_no_bias),
            ("pad the input with `padding` zeros on every side first", m.conv_no_padding),
            ("move the window by `stride` pixels: output positions are i * stride", m.conv_no_stride),
            ("pad both sides, padding zeros on the top and left and as many on the bottom and right",
             m.conv_one_sided_padding),
        )),
    ),
    Exercise(
        name="maxpool2d_forward",
        entry=("maxpool2d_forward",),
        cases=pool_cases,
        forbidden=POOL_SHORTCUTS,
        forbidden_hint="take the max over windows you build yourself (slicing or Tensor.unfold)",
        mistakes=_mistakes("maxpool2d_forward", (
            ("when stride is None it equals kernel_size (windows that do not overlap)", m.pool_stride_one),
            ("pad with -inf, not zeros: a padded zero would beat negative inputs", m.pool_zero_padding),
            ("take the max of each window, not the mean", m.pool_average),
            ("pad the input by `padding` on every side (with -inf)", m.pool_no_padding),
        )),
    ),
    Exercise(
        name="conv2d_num_params",
        entry=("conv2d_num_params",),
        cases=conv_params_cases,
        mistakes=_mistakes("conv2d_num_params", (
            ("count the biases: one per output channel (unless bias=False)", m.conv_params_no_bias),
            ("each filter spans every input channel: out * in * KH * KW weights", m.conv_params_no_in_channels),
            ("there is one bias per output channel, not one per input and output channel",
             m.conv_params_bias_per_weight),
            ("with bias=False there are no biases to count", m.conv_params_bias_always),
        )),
    ),
    Exercise(
        name="linear_num_params",
        entry=("linear_num_params",),
        cases=linear_params_cases,
        mistakes=_mistakes("linear_num_params", (
            ("count the biases: one per output feature", m.linear_params_no_bias),
            ("there is one bias per output feature, not per input feature", m.linear_params_bias_per_input),
            ("with bias=False there are no biases to count", m.linear_params_bias_always),
        )),
    ),
    Exercise(
        name="receptive_field",
        entry=("receptive_field",),
        cases=field_cases,
        mistakes=_mistakes("receptive_field", (
            ("strides matter: after a stride-s layer, each step of the next kernel covers s input pixels",
             m.field_ignores_strides),
            ("a layer's kernel steps by the product of the strides *before* it, not including its own",
             m.field_stride_too_early),
            ("a k-pixel kernel widens the field by k - 1, times the product of the earlier strides",
             m.field_sum_of_kernels),
        )),
    ),
    Exercise(
        name="ResidualBlock",
        entry=("ResidualBlock",),
        cases=block_cases,
        mistakes=(
            Mistake("apply the final ReLU after adding the shortcut: relu(Y + shortcut)",
                    {"ResidualBlock": m.BlockNoFinalRelu}),
            Mistake("no ReLU between bn2 and the addition: the ReLU comes after adding the shortcut",
                    {"ResidualBlock": m.BlockReluBeforeAdd}),
            Mistake("remove the extra ReLU between bn2 and the addition: the only ReLU after bn2 comes after "
                    "adding the shortcut", {"ResidualBlock": m.BlockExtraReluBeforeAdd}),
            Mistake("one ReLU after bn1: remove the extra ReLU between conv1 and bn1",
                    {"ResidualBlock": m.BlockReluBeforeAndAfterBn}),
            Mistake("apply bn1 to the output of conv1, then the ReLU", {"ResidualBlock": m.BlockReluBeforeBn}),
            Mistake("add the shortcut (x, or conv3(x)) to the main branch", {"ResidualBlock": m.BlockNoShortcut}),
            Mistake(ONE_BY_ONE, {"ResidualBlock": m.BlockNoShortcutCheck}),
        ),
    ),
    Exercise(
        name="small_resnet",
        entry=("SmallResNet",),
        uses=("ResidualBlock",),
        cases=resnet_cases,
        mistakes=(
            Mistake("the first stage keeps the size (stride 1): the max pooling has already halved it",
                    {"SmallResNet": m.ResNetFirstStageDownsamples}),
            Mistake("the stem ends with a 3x3 max pooling of stride 2 (padding 1)",
                    {"SmallResNet": m.ResNetNoMaxPool}),
            Mistake("the 7x7 stem convolution needs padding 3 to halve the size exactly",
                    {"SmallResNet": m.ResNetStemNoPadding}),
            Mistake("the max pooling needs padding 1: (32 + 2 - 3) // 2 + 1 = 16",
                    {"SmallResNet": m.ResNetPoolNoPadding}),
        ),
    ),
    Exercise(
        name="LeNet5",
        entry=("LeNet5",),
        cases=lenet_cases,
        mistakes=(
            Mistake("LeNet-5 here uses max pooling (F.max_pool2d or nn.MaxPool2d), not average pooling",
                    {"LeNet5": m.LeNetAveragePooling}),
            Mistake("apply a ReLU after fc1 and after fc2 (not after fc3: it gives the scores)",
                    {"LeNet5": m.LeNetNoHiddenRelu}),
        ),
    ),
    Exercise(
        name="vgg_block",
        entry=("vgg_block",),
        cases=vgg_cases,
        mistakes=(
            Mistake("end the block with MaxPool2d(kernel_size=2, stride=2): it halves the size",
                    {"vgg_block": m.vgg_no_pooling}),
            Mistake("the 3x3 convolutions keep the size ('same' padding): padding=1",
                    {"vgg_block": m.vgg_no_padding}),
            Mistake("follow every convolution with a ReLU", {"vgg_block": m.vgg_no_relu}),
        ),
    ),
    Exercise(
        name="InceptionBlock",
        entry=("InceptionBlock",),
        cases=inception_cases,
        mistakes=(
            Mistake("apply a ReLU after each 1x1 bottleneck too, before the 3x3 or 5x5 convolution",
                    {"InceptionBlock": m.InceptionNoBottleneckRelu}),
            Mistake("concatenate the branches in order: 1x1, 3x3, 5x5, then the pooling branch",
                    {"InceptionBlock": m.InceptionWrongOrder}),
            Mistake("the fourth branch starts with a 3x3 max pooling (stride 1, padding 1), not average pooling",
                    {"InceptionBlock": m.InceptionAveragePool}),
        ),
    ),
    Exercise(
        name="conv_transpose_output_size",
        entry=("conv_transpose_output_size",),
        cases=transpose_cases,
        mistakes=_mistakes("conv_transpose_output_size", (
            ("a transposed convolution grows the input: (size - 1) * stride - 2 * padding + ..., "
             "not the convolution's formula", m.tsize_conv_formula),
            ("add output_padding: it adds that many pixels to one side of the output", m.tsize_no_output_padding),
            ("padding removes pixels on both sides: subtract 2 * padding", m.tsize_padding_once),
            ("a dilated kernel spans dilation * (kernel_size - 1) + 1 pixels", m.tsize_no_dilation),
            ("raise ValueError when output_padding is not smaller than stride or dilation, "
             "or the size is 0 or less", m.tsize_no_check),
        )),
    ),
    Exercise(
        name="ConvAutoencoder",
        entry=("ConvAutoencoder",),
        cases=autoencoder_cases,
        mistakes=(
            Mistake("a stride-2 transposed convolution can give two sizes: pass output_size= (the encoder's "
                    "input size) to dec1 and dec2", {"ConvAutoencoder": m.AutoencoderFixedOutputPadding}),
            Mistake("end with a sigmoid, so that the output is a pixel value in (0, 1)",
                    {"ConvAutoencoder": m.AutoencoderNoSigmoid}),
        ),
    ),
    Exercise(
        name="fine_tune",
        entry=("fine_tune",),
        cases=fine_tune_cases,
        mistakes=_mistakes("fine_tune", (
            ("with freeze=True, set requires_grad_(False) on every parameter except the new head's",
             m.fine_tune_no_freeze),
            ("return only the parameters that are trained: the head's when freeze=True, all of them otherwise",
             m.fine_tune_returns_all),
            ("the new head must stay trainable: freeze the old layers only (or unfreeze the head afterwards)",
             m.fine_tune_head_frozen),
            ("with freeze=False nothing is frozen: every parameter is trained and returned",
             m.fine_tune_always_frozen),
            ("replace the last layer by a fresh nn.Linear(in_features, num_classes)", m.fine_tune_old_head),
        )),
    ),
]
