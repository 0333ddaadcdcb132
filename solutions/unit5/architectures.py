"""Unit 5 reference solutions: classic architectures (LeNet-5, VGG, Inception), transposed convolutions, fine-tuning."""
import torch
from torch import nn
from torch.nn import functional as F


class LeNet5(nn.Module):
    """The slides' LeNet-5 for 32x32 colour images: two 5x5 convolutions with 2x2 max pooling, then 120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=5)        # 3*25*8 + 8 = 608 parameters
        self.conv2 = nn.Conv2d(8, 16, kernel_size=5)       # 8*25*16 + 16 = 3216
        self.fc1 = nn.Linear(16 * 5 * 5, 120)              # 48120
        self.fc2 = nn.Linear(120, 84)                      # 10164
        self.fc3 = nn.Linear(84, 10)                       # 850

    def forward(self, X):
        Y = F.max_pool2d(F.relu(self.conv1(X)), 2)         # (N, 8, 14, 14)
        Y = F.max_pool2d(F.relu(self.conv2(Y)), 2)         # (N, 16, 5, 5)
        Y = torch.flatten(Y, 1)                            # (N, 400)
        Y = F.relu(self.fc2(F.relu(self.fc1(Y))))          # (N, 84)
        return self.fc3(Y)                                 # (N, 10)


def vgg_block(num_convs, in_channels, out_channels):
    """num_convs 3x3 'same' convolutions, each followed by a ReLU, then 2x2 max pooling of stride 2."""
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated along the channels: 1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1.

    c1 and c4 are ints, c2 and c3 pairs (bottleneck channels, output channels).
    """

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)             # bottleneck
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)             # bottleneck
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, X):
        p1 = F.relu(self.p1_1(X))                                   # (N, c1, H, W)
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(X))))                # (N, c2[1], H, W)
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(X))))                # (N, c3[1], H, W)
        p4 = F.relu(self.p4_2(self.p4_1(X)))                        # (N, c4, H, W)
        return torch.cat((p1, p2, p3, p4), dim=1)                   # (N, c1 + c2[1] + c3[1] + c4, H, W)


def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """(size - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1, as nn.ConvTranspose2d.

    ValueError when output_padding is not smaller than stride or dilation, or the size is not positive.
    """
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding ({output_padding}) must be smaller than the stride ({stride}) "
                         f"or the dilation ({dilation})")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out <= 0:
        raise ValueError(f"padding {padding} removes the whole output: the size would be {out}")
    return out


class ConvAutoencoder(nn.Module):
    """Two stride-2 convolutions down, two stride-2 transposed convolutions up; the output has the input's shape."""

    def __init__(self, in_channels=1, hidden=(8, 16)):
        super().__init__()
        h1, h2 = hidden
        self.enc1 = nn.Conv2d(in_channels, h1, kernel_size=3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(h1, h2, kernel_size=3, stride=2, padding=1)
        self.dec1 = nn.ConvTranspose2d(h2, h1, kernel_size=3, stride=2, padding=1)
        self.dec2 = nn.ConvTranspose2d(h1, in_channels, kernel_size=3, stride=2, padding=1)

    def forward(self, X):
        H1 = F.relu(self.enc1(X))                                       # (N, h1, ceil(H/2), ceil(W/2))
        Z = F.relu(self.enc2(H1))                                       # (N, h2, ceil(H/4), ceil(W/4))
        Y = F.relu(self.dec1(Z, output_size=H1.shape[-2:]))             # (N, h1) at H1's size
        return torch.sigmoid(self.dec2(Y, output_size=X.shape[-2:]))    # (N, in_channels, H, W)


def fine_tune(backbone, num_classes, freeze=True):
    """Replace the last layer (an nn.Linear) of an nn.Sequential by a fresh one with num_classes outputs.

    With freeze, every other parameter stops requiring gradients. Returns the parameters to optimise:
    the new head's with freeze, all of them without.
    """
    old = backbone[-1]
    if not isinstance(old, nn.Linear):
        raise ValueError(f"the last layer of the backbone must be an nn.Linear, not a {type(old).__name__}")
    head = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    backbone[-1] = head.to(device=old.weight.device, dtype=old.weight.dtype)
    for param in backbone.parameters():
        param.requires_grad_(not freeze)
    for param in backbone[-1].parameters():
        param.requires_grad_(True)
    return [p for p in backbone.parameters() if p.requires_grad]
