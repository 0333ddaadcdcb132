"""Unit 5 reference solutions: convolution arithmetic, a convolution and max pooling by hand.

conv2d_forward and maxpool2d_forward cut the input into windows with
Tensor.unfold and reduce each window; they never call a library convolution
or pooling. Everything runs on the device and in the dtype of the inputs.
"""
import math

import torch
import torch.nn.functional as F


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1; ValueError if not positive."""
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out <= 0:
        raise ValueError(f"a kernel of {kernel_size} (dilation {dilation}) does not fit an input of {size} "
                         f"with padding {padding}: the output size would be {out}")
    return out


def _windows(x, kernel_size, stride):
    """All (KH, KW) windows of x (N, C, H, W) at the given stride: (N, C, OH, OW, KH, KW)."""
    (KH, KW), (SH, SW) = _pair(kernel_size), _pair(stride)
    return x.unfold(2, KH, SH).unfold(3, KW, SW)


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Cross-correlate x (N, C, H, W) with w (F, C, KH, KW), add b (F,): (N, F, OH, OW)."""
    x = F.pad(x, (padding, padding, padding, padding))           # zeros around H and W
    patches = _windows(x, w.shape[2:], stride)                   # (N, C, OH, OW, KH, KW)
    out = torch.einsum("nchwij,fcij->nfhw", patches, w)          # (N, F, OH, OW)
    return out + b.view(1, -1, 1, 1)


def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max over each window of x (N, C, H, W); stride defaults to kernel_size; pads with -inf."""
    stride = kernel_size if stride is None else stride
    x = F.pad(x, (padding, padding, padding, padding), value=-math.inf)
    return _windows(x, kernel_size, stride).amax(dim=(-2, -1))   # (N, C, OH, OW)


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):
    """Weights of a Conv2d: out * in * KH * KW, plus one bias per output channel."""
    KH, KW = _pair(kernel_size)
    return out_channels * in_channels * KH * KW + (out_channels if bias else 0)


def linear_num_params(in_features, out_features, bias=True):
    """Weights of a Linear layer: in * out, plus one bias per output."""
    return in_features * out_features + (out_features if bias else 0)


def receptive_field(layers):
    """Side of the input region one output unit sees, after layers [(kernel_size, stride), ...]."""
    field, jump = 1, 1         # jump: input pixels between neighbouring units of the current layer
    for kernel_size, stride in layers:
        field += (kernel_size - 1) * jump
        jump *= stride
    return field
