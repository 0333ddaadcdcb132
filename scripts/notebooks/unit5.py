"""Source of exercises/unit5/convnets.ipynb; `python scripts/notebooks/unit5.py` rewrites it."""
from __future__ import annotations

from pathlib import Path

from grader.notebook.build import build_notebook


NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / "unit5" / "convnets.ipynb"

CELLS = [
    ("markdown", r"""# Unit 5: convolutional networks

A convolutional layer slides a small filter over an image and computes the same weighted sum at every
position. This notebook goes from the arithmetic of sizes and parameter counts to a convolution and a
max pooling written by hand, and ends with residual blocks and a small ResNet built from them.

All tensors are laid out as PyTorch does: a batch of images is `(N, C, H, W)` (batch, channels, height,
width). Your code must also run on a GPU, so create new tensors on the device of the inputs."""),
    ("code", "import math\n\nimport torch\nfrom torch import nn\nfrom torch.nn import functional as F"),
    ("markdown", r"""## 1. The size of a convolution's output

Along one axis, an input of `size` pixels is padded with `padding` pixels on *both* sides. A kernel of
`kernel_size` taps spaced `dilation` pixels apart spans $d(k-1)+1$ pixels. The window starts at
position 0 and moves `stride` pixels at a time for as long as it fits completely, so the number of
positions is

$$\text{out} = \left\lfloor \frac{\text{size} + 2p - d(k - 1) - 1}{s} \right\rfloor + 1 .$$

The floor matters when the stride does not divide evenly: a 3x3 kernel with stride 2 and padding 1 on
32 pixels gives $\lfloor 31/2 \rfloor + 1 = 16$, not 16.5. The same formula holds for pooling. If the
result is 0 or negative the kernel does not fit at all: raise a `ValueError` that says so. Return a
Python `int`."""),
    ("code", r'''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length along one axis of a convolution or pooling layer (an int >= 1).

    Raises ValueError when the kernel does not fit, i.e. the formula gives 0 or less.
    """
    raise NotImplementedError("conv_output_size: apply the formula with floor division")'''),
    ("code", 'from grader import check\ncheck("conv_output_size")'),
    ("markdown", r"""## 2. A convolution by hand

A "convolution" layer in deep learning computes a cross-correlation: the kernel is not flipped. For
an input `x` of shape `(N, C, H, W)`, filters `w` of shape `(F, C, KH, KW)` and biases `b` of shape
`(F,)`,

$$y[n, f, i, j] = b[f] + \sum_{c=0}^{C-1} \sum_{u=0}^{KH-1} \sum_{v=0}^{KW-1}
x_{\text{pad}}[n, c, i\,s + u, j\,s + v]\; w[f, c, u, v],$$

where $x_{\text{pad}}$ is `x` with `padding` zeros on every side and $s$ is the stride. Each filter spans
all input channels and produces one output channel, so the output is `(N, F, OH, OW)` with `OH` and
`OW` from `conv_output_size`. Kernels need not be square (`KH != KW`).

**What you may use.** `F.conv2d` (and `torch.conv2d`, `nn.Conv2d`, which call it) would make this
exercise empty, so the checker rejects it. It also rejects `F.unfold`, which builds every padded,
strided window for you (the classic "im2col"): that is most of the work. You may pad with `F.pad`, take
windows with slicing or with `Tensor.unfold(dim, size, step)` (which cuts one axis into overlapping
pieces), and combine them with `@`, `einsum` or `sum`. A loop over the `OH * OW` output positions that
handles all images, filters and channels at once with tensor operations is perfectly fine."""),
    ("code", r'''def conv2d_forward(x, w, b, stride=1, padding=0):
    """Cross-correlation of x with w, plus b.

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,); stride and padding are ints.
    Returns (N, F, OH, OW), with OH, OW given by conv_output_size.
    """
    raise NotImplementedError("conv2d_forward: pad x, then combine every window with the filters")'''),
    ("code", 'from grader import check\ncheck("conv2d_forward")'),
    ("markdown", r"""## 3. Max pooling by hand

Max pooling replaces each window by its largest value, channel by channel: it has no weights and keeps
the number of channels. `kernel_size` and `stride` may be ints or `(height, width)` pairs; when
`stride` is `None` it equals `kernel_size`, so windows do not overlap. The output size follows the same
formula as before.

Padding needs care: `F.max_pool2d` pads with $-\infty$, so a padded pixel can never be the maximum.
Padding with zeros would be wrong whenever a window holds only negative numbers. The same rules as
above apply: `F.max_pool2d`, `nn.MaxPool2d` and `F.unfold` are rejected; `F.pad(..., value=-math.inf)`,
slicing and `Tensor.unfold` are fine."""),
    ("code", r'''def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max pooling of x: (N, C, H, W) -> (N, C, OH, OW).

    kernel_size, stride: int or (height, width); stride None means stride = kernel_size.
    padding: int, filled with -inf.
    """
    raise NotImplementedError("maxpool2d_forward: pad with -inf, then take the max of every window")'''),
    ("code", 'from grader import check\ncheck("maxpool2d_forward")'),
    ("markdown", r"""## 4. Counting parameters

A `Conv2d(C_in, C_out, kernel_size=(KH, KW))` layer has one filter per output channel, each with
`C_in * KH * KW` weights, plus one bias per output channel:

$$\#\text{conv} = C_\text{out}\, C_\text{in}\, K_H K_W + C_\text{out}.$$

Notice that the image size does not appear: the same filter is shared by every position. A
`Linear(D_in, D_out)` layer has $D_\text{in} D_\text{out} + D_\text{out}$ parameters. With
`bias=False` the bias terms drop out. `kernel_size` may be an int (a square kernel) or a pair.
Return Python ints."""),
    ("code", r'''def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):
    """Number of trainable parameters of nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)."""
    raise NotImplementedError("conv2d_num_params")'''),
    ("code", 'from grader import check\ncheck("conv2d_num_params")'),
    ("code", r'''def linear_num_params(in_features, out_features, bias=True):
    """Number of trainable parameters of nn.Linear(in_features, out_features, bias=bias)."""
    raise NotImplementedError("linear_num_params")'''),
    ("code", 'from grader import check\ncheck("linear_num_params")'),
    ("markdown", r"""### A LeNet-style network, layer by layer

The lecture traces a batch of 64 colour images of 32x32 pixels through a small network: a convolution
with 100 filters of 5x5 and stride 2 (no padding), a 2x2 max pooling with stride 2 and padding 1, a
flattening step, a fully connected layer of 7 units and an output layer of 10 classes. Run the next cell
once your functions pass their checks: it rebuilds the lecture's table of activation shapes and
parameter counts from them, and checks the result against PyTorch's layers."""),
    ("code", r'''def lenet_table(N=64, C=3, H=32):
    """Print the activation shapes and parameter counts of the lecture's network; return the total."""
    h1 = conv_output_size(H, 5, stride=2)                # convolution
    h2 = conv_output_size(h1, 2, stride=2, padding=1)    # pooling
    flat = 100 * h2 * h2
    rows = [
        ("input", (N, C, H, H), 0),
        ("conv 100 @ 5x5, stride 2", (N, 100, h1, h1), conv2d_num_params(C, 100, 5)),
        ("max pool 2x2, stride 2, pad 1", (N, 100, h2, h2), 0),
        ("flatten", (N, flat), 0),
        ("fully connected, 7 units", (N, 7), linear_num_params(flat, 7)),
        ("output, 10 classes", (N, 10), linear_num_params(7, 10)),
    ]
    print(f"{'layer':32} {'activation shape':22} {'size':>8} {'parameters':>11}")
    for name, shape, params in rows:
        print(f"{name:32} {str(list(shape)):22} {math.prod(shape[1:]):8} {params:11}")
    print(f"{'total':32} {'':22} {'':8} {sum(p for *_, p in rows):11}")

    # the same network in PyTorch, as a cross-check
    net = nn.Sequential(nn.Conv2d(C, 100, 5, stride=2), nn.MaxPool2d(2, stride=2, padding=1), nn.Flatten(),
                        nn.Linear(flat, 7), nn.Linear(7, 10))
    assert net(torch.zeros(N, C, H, H)).shape == (N, 10)
    assert sum(p.numel() for p in net.parameters()) == sum(p for *_, p in rows)
    return sum(p for *_, p in rows)


try:
    lenet_table()
except NotImplementedError as exc:
    print("finish the functions above first:", exc)'''),
    ("markdown", r"""## 5. Receptive field

The receptive field of a unit is the square of input pixels that can change its value. Stack layers
given as `(kernel_size, stride)` pairs and follow two numbers from the input upwards: the field $r$
(start at 1, a single pixel) and the *jump* $j$, the distance in input pixels between two neighbouring
units of the current layer (start at 1). A layer with kernel $k$ and stride $s$ widens the field by
$k - 1$ of the current jumps, and then multiplies the jump by its stride:

$$r \leftarrow r + (k - 1)\, j, \qquad j \leftarrow j \cdot s .$$

For example two 3x3 convolutions of stride 1 see 5x5 pixels, the same as one 5x5 convolution with
fewer weights. Return an int; an empty list of layers gives 1."""),
    ("code", r'''def receptive_field(layers):
    """Receptive field (in input pixels, per side) of one unit after layers [(kernel_size, stride), ...]."""
    raise NotImplementedError("receptive_field: track the field and the jump layer by layer")'''),
    ("code", 'from grader import check\ncheck("receptive_field")'),
    ("markdown", r"""## 6. A residual block

A residual block computes a correction $F(x)$ and adds it to its input, so the block only has to learn
how the output differs from $x$, and gradients reach early layers through the shortcut undisturbed:

$$y = \operatorname{relu}\big(\operatorname{bn}_2(\operatorname{conv}_2(\operatorname{relu}(\operatorname{bn}_1(\operatorname{conv}_1(x))))) + \text{shortcut}(x)\big).$$

Write `ResidualBlock(in_channels, out_channels, use_1x1conv=False, stride=1)` as an `nn.Module` with
exactly these attributes (the checker copies weights into them by name):

* `conv1`: 3x3, `in_channels -> out_channels`, stride `stride`, padding 1; `bn1`: `BatchNorm2d(out_channels)`
* `conv2`: 3x3, `out_channels -> out_channels`, stride 1, padding 1; `bn2`: `BatchNorm2d(out_channels)`
* `conv3`: 1x1, `in_channels -> out_channels`, stride `stride`, only when `use_1x1conv` is true (set it
  to `None` otherwise). The shortcut is `conv3(x)` when it exists and `x` itself when it does not.

Keep the convolutions' biases (the default). The addition needs both branches to have the same shape.
The main branch has `out_channels` channels and a size divided by `stride`; the identity shortcut keeps
the input's shape. So without a 1x1 convolution a block whose channels or stride change cannot work:
raise a `ValueError` in `__init__` that says why. The lecture's two blocks on an input `[10, 3, 32, 32]`:
`ResidualBlock(3, 3)` keeps `[10, 3, 32, 32]`, and `ResidualBlock(3, 6, use_1x1conv=True, stride=2)`
gives `[10, 6, 16, 16]`. The checks compare your block's outputs with the reference's in training and
evaluation mode (batch norm behaves differently in the two) and its gradients."""),
    ("code", r'''class ResidualBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    x: (N, in_channels, H, W) -> (N, out_channels, H', W') with H' = conv_output_size(H, 3, stride, 1).
    """

    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        super().__init__()
        raise NotImplementedError("ResidualBlock.__init__: create conv1, bn1, conv2, bn2 and conv3")

    def forward(self, X):
        raise NotImplementedError("ResidualBlock.forward")'''),
    ("code", 'from grader import check\ncheck("ResidualBlock")'),
    ("markdown", r"""## 7. A small ResNet

The lecture's quiz follows a batch `[32, 3, 64, 64]` through a ResNet. Build it as `SmallResNet` from
your blocks, with these parts, in this order, as attributes of these names (the checker records the
output shape of each):

| attribute | what | output for `[32, 3, 64, 64]` |
|---|---|---|
| `stem` | `Conv2d(in_channels, c1, 7, stride=2, padding=3)`, `BatchNorm2d`, ReLU, `MaxPool2d(3, stride=2, padding=1)` | `[32, 64, 16, 16]` |
| `stage1` | `num_blocks` blocks `c1 -> c1`, stride 1 | `[32, 64, 16, 16]` |
| `stage2` | first block `c1 -> c2` with a 1x1 convolution and stride 2, then `c2 -> c2` blocks | `[32, 128, 8, 8]` |
| `stage3` | the same with `c2 -> c3` | `[32, 256, 4, 4]` |
| `pool` | `AdaptiveAvgPool2d((1, 1))` | `[32, 256, 1, 1]` |
| `fc` | `Linear(c3, num_classes)` after flattening | `[32, 10]` |

with `(c1, c2, c3) = channels`, `(64, 128, 256)` by default. The first stage does not downsample because
the stem's pooling has just done so. Put each stage in an `nn.Sequential`; the helper `resnet_stage`
below is a suggestion. Verify each shape with `conv_output_size` before you run the model."""),
    ("code", r'''def resnet_stage(in_channels, out_channels, num_blocks, first_stage=False):
    """nn.Sequential of num_blocks ResidualBlocks; unless first_stage, the first one halves the size."""
    raise NotImplementedError("resnet_stage")


class SmallResNet(nn.Module):
    """stem -> stage1 -> stage2 -> stage3 -> pool -> flatten -> fc.

    x: (N, in_channels, H, W) -> logits (N, num_classes).
    """

    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__()
        raise NotImplementedError("SmallResNet.__init__: create stem, stage1, stage2, stage3, pool and fc")

    def forward(self, X):
        raise NotImplementedError("SmallResNet.forward")'''),
    ("code", 'from grader import check\ncheck("small_resnet")'),
]


def render() -> str:
    """The notebook as JSON text."""
    return build_notebook(CELLS)


if __name__ == "__main__":
    NOTEBOOK.write_text(render(), encoding="utf-8")
