"""Unit 5 reference solutions: a residual block and the small ResNet of the lecture quiz."""
import torch
from torch import nn
from torch.nn import functional as F


class ResidualBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut being conv3 or x itself."""

    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        super().__init__()
        if not use_1x1conv and (in_channels != out_channels or stride != 1):
            raise ValueError(
                f"without a 1x1 convolution the shortcut is x itself, so it cannot be added to the main branch: "
                f"in_channels={in_channels}, out_channels={out_channels}, stride={stride}; use use_1x1conv=True")
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride) if use_1x1conv else None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))                      # (N, out, H/stride, W/stride)
        Y = self.bn2(self.conv2(Y))                              # same shape
        shortcut = X if self.conv3 is None else self.conv3(X)    # same shape as Y
        return F.relu(Y + shortcut)


def resnet_stage(in_channels, out_channels, num_blocks, first_stage=False):
    """num_blocks residual blocks; all but the first stage halve the size and change channels in block 1."""
    blocks = []
    for i in range(num_blocks):
        if i == 0 and not first_stage:
            blocks.append(ResidualBlock(in_channels, out_channels, use_1x1conv=True, stride=2))
        else:
            blocks.append(ResidualBlock(out_channels, out_channels))
    return nn.Sequential(*blocks)


class SmallResNet(nn.Module):
    """A 7x7 stride-2 stem with 3x3 stride-2 max pooling, three stages of residual blocks, and a linear head."""

    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__()
        c1, c2, c3 = channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.stage1 = resnet_stage(c1, c1, num_blocks, first_stage=True)
        self.stage2 = resnet_stage(c1, c2, num_blocks)
        self.stage3 = resnet_stage(c2, c3, num_blocks)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c3, num_classes)

    def forward(self, X):
        Y = self.stem(X)                                         # (N, c1, H/4, W/4)
        Y = self.stage3(self.stage2(self.stage1(Y)))             # (N, c3, H/16, W/16)
        return self.fc(torch.flatten(self.pool(Y), 1))           # (N, num_classes)
