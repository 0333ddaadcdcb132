"""Typical wrong implementations for Unit 5, each recognised by the checks with a hint."""
import math

import torch
from torch import nn
from torch.nn import functional as F

from .cnn import _pair, _windows
from .resnet import ResidualBlock, SmallResNet


# conv_output_size ---------------------------------------------------------
def size_no_plus_one(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride
    if out <= 0:
        raise ValueError(out)
    return out


def size_ceil(size, kernel_size, stride=1, padding=0, dilation=1):
    out = -(-(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride) + 1
    if out <= 0:
        raise ValueError(out)
    return out


def size_padding_once(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out <= 0:
        raise ValueError(out)
    return out


def size_no_dilation(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + 2 * padding - kernel_size) // stride + 1
    if out <= 0:
        raise ValueError(out)
    return out


def size_no_check(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


# conv2d_forward -----------------------------------------------------------
def _conv(x, w, b, stride, padding, flip=False, bias=True, pad=None, use_stride=True):
    x = F.pad(x, pad if pad is not None else (padding,) * 4)
    if flip:
        w = w.flip(2, 3)
    out = torch.einsum("nchwij,fcij->nfhw", _windows(x, w.shape[2:], stride if use_stride else 1), w)
    return out + b.view(1, -1, 1, 1) if bias else out


def conv_flipped(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, padding, flip=True)


def conv_no_bias(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, padding, bias=False)


def conv_no_padding(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, 0)


def conv_no_stride(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, padding, use_stride=False)


def conv_one_sided_padding(x, w, b, stride=1, padding=0):
    return _conv(x, w, b, stride, padding, pad=(2 * padding, 0, 2 * padding, 0))


# maxpool2d_forward --------------------------------------------------------
def _pool(x, kernel_size, stride, padding, fill=-math.inf, reduce="max"):
    x = F.pad(x, (padding,) * 4, value=fill)
    windows = _windows(x, kernel_size, stride)
    return windows.amax(dim=(-2, -1)) if reduce == "max" else windows.mean(dim=(-2, -1))


def pool_stride_one(x, kernel_size, stride=None, padding=0):
    return _pool(x, kernel_size, 1 if stride is None else stride, padding)


def pool_zero_padding(x, kernel_size, stride=None, padding=0):
    return _pool(x, kernel_size, kernel_size if stride is None else stride, padding, fill=0.0)


def pool_average(x, kernel_size, stride=None, padding=0):
    return _pool(x, kernel_size, kernel_size if stride is None else stride, padding, reduce="mean")


def pool_no_padding(x, kernel_size, stride=None, padding=0):
    return _pool(x, kernel_size, kernel_size if stride is None else stride, 0)


# conv2d_num_params and linear_num_params ----------------------------------
def conv_params_no_bias(in_channels, out_channels, kernel_size, bias=True):
    KH, KW = _pair(kernel_size)
    return out_channels * in_channels * KH * KW


def conv_params_no_in_channels(in_channels, out_channels, kernel_size, bias=True):
    KH, KW = _pair(kernel_size)
    return out_channels * KH * KW + (out_channels if bias else 0)


def conv_params_bias_per_weight(in_channels, out_channels, kernel_size, bias=True):
    KH, KW = _pair(kernel_size)
    return out_channels * in_channels * KH * KW + (out_channels * in_channels if bias else 0)


def conv_params_bias_always(in_channels, out_channels, kernel_size, bias=True):
    KH, KW = _pair(kernel_size)
    return out_channels * in_channels * KH * KW + out_channels


def linear_params_no_bias(in_features, out_features, bias=True):
    return in_features * out_features


def linear_params_bias_per_input(in_features, out_features, bias=True):
    return in_features * out_features + (in_features if bias else 0)


def linear_params_bias_always(in_features, out_features, bias=True):
    return in_features * out_features + out_features


# receptive_field ----------------------------------------------------------
def field_ignores_strides(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def field_stride_too_early(layers):
    field, jump = 1, 1
    for k, s in layers:
        jump *= s
        field += (k - 1) * jump
    return field


def field_sum_of_kernels(layers):
    return sum(k for k, _ in layers) if layers else 1


# ResidualBlock ------------------------------------------------------------
class BlockNoFinalRelu(ResidualBlock):
    def forward(self, X):
        Y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))
        return Y + (X if self.conv3 is None else self.conv3(X))


class BlockReluBeforeAdd(ResidualBlock):
    def forward(self, X):
        Y = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))))
        return Y + (X if self.conv3 is None else self.conv3(X))


class BlockExtraReluBeforeAdd(ResidualBlock):
    def forward(self, X):
        Y = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))))
        return F.relu(Y + (X if self.conv3 is None else self.conv3(X)))


class BlockReluBeforeAndAfterBn(ResidualBlock):
    def forward(self, X):
        Y = self.bn2(self.conv2(F.relu(self.bn1(F.relu(self.conv1(X))))))
        return F.relu(Y + (X if self.conv3 is None else self.conv3(X)))


class BlockReluBeforeBn(ResidualBlock):
    def forward(self, X):
        Y = self.bn2(self.conv2(self.bn1(F.relu(self.conv1(X)))))
        return F.relu(Y + (X if self.conv3 is None else self.conv3(X)))


class BlockNoShortcut(ResidualBlock):
    def forward(self, X):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X))))))


class BlockNoShortcutCheck(ResidualBlock):
    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        nn.Module.__init__(self)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1, stride=stride) if use_1x1conv else None


# small_resnet -------------------------------------------------------------
class ResNetFirstStageDownsamples(SmallResNet):
    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__(in_channels, num_classes, channels, num_blocks)
        c1 = channels[0]
        self.stage1 = nn.Sequential(ResidualBlock(c1, c1, use_1x1conv=True, stride=2),
                                    *[ResidualBlock(c1, c1) for _ in range(num_blocks - 1)])


class ResNetNoMaxPool(SmallResNet):
    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__(in_channels, num_classes, channels, num_blocks)
        self.stem = self.stem[:3]


class ResNetStemNoPadding(SmallResNet):
    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__(in_channels, num_classes, channels, num_blocks)
        self.stem[0].padding = (0, 0)


class ResNetPoolNoPadding(SmallResNet):
    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__(in_channels, num_classes, channels, num_blocks)
        self.stem[3].padding = 0


# LeNet5, vgg_block, InceptionBlock ----------------------------------------
from .architectures import ConvAutoencoder, InceptionBlock, LeNet5, vgg_block  # noqa: E402


class LeNetAveragePooling(LeNet5):
    def forward(self, X):
        Y = F.avg_pool2d(F.relu(self.conv1(X)), 2)
        Y = F.avg_pool2d(F.relu(self.conv2(Y)), 2)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(torch.flatten(Y, 1))))))


class LeNetNoHiddenRelu(LeNet5):
    def forward(self, X):
        Y = F.max_pool2d(F.relu(self.conv1(X)), 2)
        Y = F.max_pool2d(F.relu(self.conv2(Y)), 2)
        return self.fc3(self.fc2(self.fc1(torch.flatten(Y, 1))))


class LeNetPoolBeforeRelu(LeNet5):
    def forward(self, X):
        Y = F.relu(F.max_pool2d(self.conv1(X), 2))
        Y = F.relu(F.max_pool2d(self.conv2(Y), 2))
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(torch.flatten(Y, 1))))))


def vgg_no_pooling(num_convs, in_channels, out_channels):
    return vgg_block(num_convs, in_channels, out_channels)[:-1]


def vgg_no_padding(num_convs, in_channels, out_channels):
    block = vgg_block(num_convs, in_channels, out_channels)
    for layer in block:
        if isinstance(layer, nn.Conv2d):
            layer.padding = (0, 0)
    return block


def vgg_no_relu(num_convs, in_channels, out_channels):
    return nn.Sequential(*[layer for layer in vgg_block(num_convs, in_channels, out_channels)
                           if not isinstance(layer, nn.ReLU)])


class InceptionNoBottleneckRelu(InceptionBlock):
    def forward(self, X):
        p1 = F.relu(self.p1_1(X))
        p2 = F.relu(self.p2_2(self.p2_1(X)))
        p3 = F.relu(self.p3_2(self.p3_1(X)))
        p4 = F.relu(self.p4_2(self.p4_1(X)))
        return torch.cat((p1, p2, p3, p4), dim=1)


class InceptionWrongOrder(InceptionBlock):
    def forward(self, X):
        out = super().forward(X)
        return torch.cat(out.split([self.p1_1.out_channels, self.p2_2.out_channels, self.p3_2.out_channels,
                                    self.p4_2.out_channels], dim=1)[::-1], dim=1)


class InceptionAveragePool(InceptionBlock):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__(in_channels, c1, c2, c3, c4)
        self.p4_1 = nn.AvgPool2d(kernel_size=3, stride=1, padding=1, count_include_pad=False)


# conv_transpose_output_size -----------------------------------------------
def _tsize(size, kernel_size, stride, padding, output_padding, dilation, check=True):
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if check and (out <= 0 or output_padding >= max(stride, dilation)):
        raise ValueError(out)
    return out


def tsize_conv_formula(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out <= 0 or output_padding >= max(stride, dilation):
        raise ValueError(out)
    return out


def tsize_no_output_padding(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    if output_padding >= max(stride, dilation):
        raise ValueError(output_padding)
    return _tsize(size, kernel_size, stride, padding, 0, dilation)


def tsize_padding_once(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    out = (size - 1) * stride - padding + dilation * (kernel_size - 1) + output_padding + 1
    if out <= 0 or output_padding >= max(stride, dilation):
        raise ValueError(out)
    return out


def tsize_no_dilation(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    out = (size - 1) * stride - 2 * padding + kernel_size + output_padding
    if out <= 0 or output_padding >= max(stride, dilation):
        raise ValueError(out)
    return out


def tsize_no_check(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return _tsize(size, kernel_size, stride, padding, output_padding, dilation, check=False)


# ConvAutoencoder ----------------------------------------------------------
class AutoencoderFixedOutputPadding(ConvAutoencoder):
    """output_padding=1 fixed in __init__: right when H and W are multiples of 4 only."""

    def __init__(self, in_channels=1, hidden=(8, 16)):
        super().__init__(in_channels, hidden)
        self.dec1.output_padding = self.dec2.output_padding = (1, 1)

    def forward(self, X):
        Y = F.relu(self.dec1(F.relu(self.enc2(F.relu(self.enc1(X))))))
        return torch.sigmoid(self.dec2(Y))


class AutoencoderNoSigmoid(ConvAutoencoder):
    def forward(self, X):
        H1 = F.relu(self.enc1(X))
        Y = F.relu(self.dec1(F.relu(self.enc2(H1)), output_size=H1.shape[-2:]))
        return self.dec2(Y, output_size=X.shape[-2:])


# fine_tune ----------------------------------------------------------------
def _new_head(backbone, num_classes):
    old = backbone[-1]
    backbone[-1] = nn.Linear(old.in_features, num_classes).to(device=old.weight.device, dtype=old.weight.dtype)


def fine_tune_no_freeze(backbone, num_classes, freeze=True):
    _new_head(backbone, num_classes)
    return list(backbone[-1].parameters())


def fine_tune_returns_all(backbone, num_classes, freeze=True):
    _new_head(backbone, num_classes)
    for param in backbone[:-1].parameters():
        param.requires_grad_(not freeze)
    return list(backbone.parameters())


def fine_tune_head_frozen(backbone, num_classes, freeze=True):
    _new_head(backbone, num_classes)
    for param in backbone.parameters():
        param.requires_grad_(not freeze)
    return [p for p in backbone.parameters() if p.requires_grad]


def fine_tune_always_frozen(backbone, num_classes, freeze=True):
    _new_head(backbone, num_classes)
    for param in backbone[:-1].parameters():
        param.requires_grad_(False)
    return list(backbone[-1].parameters())


def fine_tune_old_head(backbone, num_classes, freeze=True):
    for param in backbone[:-1].parameters():
        param.requires_grad_(not freeze)
    return list(backbone[-1].parameters()) if freeze else list(backbone.parameters())
