"""Source of exercises/unit5/convnets.ipynb; `python scripts/notebooks/unit5.py` rewrites it."""
from __future__ import annotations

from pathlib import Path

from grader.notebook.build import build_notebook


NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / "unit5" / "convnets.ipynb"

CELLS = [
    ("markdown", r"""# Unit 5: convolutional networks

A convolutional layer slides a small filter over an image and computes the same weighted sum at every
position. This notebook goes from the arithmetic of sizes and parameter counts to a convolution and a
max pooling written by hand, then residual blocks and a small ResNet built from them, the classic
architectures (LeNet-5, VGG, Inception), transposed convolutions and fine-tuning.

All tensors are laid out as PyTorch does: a batch of images is `(N, C, H, W)` (batch, channels, height,
width). Your code must also run on a GPU, so create new tensors on the device of the inputs."""),
    ("code", "import math\n\nimport torch\nfrom torch import nn\nfrom torch.nn import functional as F"),
    ("markdown", r"""## 1. The size of a convolution's output

Along one axis, an input of `size` pixels is padded with `padding` pixels on *both* sides. A kernel of
`kernel_size` taps spaced `dilation` pixels apart spans $d(k-1)+1$ pixels. The window starts at
position 0 and moves `stride` pixels at a time for as long as it fits completely, so the number of
positions is

$$\text{out} = \left\lfloor \frac{\text{size} + 2p - d(k - 1) - 1}{s} \right\rfloor + 1 .$$

Two choices of padding have names of their own. *Valid* padding means no padding at all: the kernel
only visits positions where it fits inside the image, so each layer trims $d(k-1)$ pixels (a 5x5 kernel
turns 32 pixels into 28). *Same* padding adds just enough zeros that, with stride 1, the output is as
large as the input: $p = (k-1)/2$ for an odd kernel, so padding 1 for 3x3 and 2 for 5x5. PyTorch accepts
both words (`nn.Conv2d(3, 8, 3, padding="same")`), and the VGG and Inception blocks below rely on "same".

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
    ("markdown", r"""### The week-6 quiz network, layer by layer

This is not LeNet: it is the small network of the week-6 quiz. It traces a batch of 64 colour images of
32x32 pixels through a convolution with 100 filters of 5x5 and stride 2 (no padding), a 2x2 max pooling
with stride 2 and padding 1, a flattening step, a fully connected layer of 7 units and an output layer
of 10 classes. Run the next cell once your functions pass their checks: it rebuilds the quiz's table of
activation shapes and parameter counts from them, and checks the result against PyTorch's layers."""),
    ("code", r'''def quiz_network_table(N=64, C=3, H=32):
    """Print the activation shapes and parameter counts of the quiz network; return the total."""
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
    quiz_network_table()
except NotImplementedError as exc:
    print("finish the functions above first:", exc)'''),
    ("markdown", r"""### The slides' LeNet-5

LeNet-5 (LeCun et al., 1998) as the slides draw it, for 32x32 colour images: two 5x5 convolutions
without padding ("valid"), with 8 and then 16 filters, each followed by a 2x2 max pooling of stride 2,
then fully connected layers of 120, 84 and 10 units.

| layer | activation shape (one image) | parameters |
|---|---|---|
| input | 3 x 32 x 32 | 0 |
| conv 8 @ 5x5 | 8 x 28 x 28 | 3 * 25 * 8 + 8 = 608 |
| max pool 2x2 | 8 x 14 x 14 | 0 |
| conv 16 @ 5x5 | 16 x 10 x 10 | 8 * 25 * 16 + 16 = 3216 |
| max pool 2x2 | 16 x 5 x 5 | 0 |
| fully connected 120 | 120 | 400 * 120 + 120 = 48120 |
| fully connected 84 | 84 | 120 * 84 + 84 = 10164 |
| output 10 | 10 | 84 * 10 + 10 = 850 |

The next cell derives every number of this table from your functions; it is a sanity check for them
before you build the network itself in section 8."""),
    ("code", r'''def lenet5_table():
    """The slides' LeNet-5 table from conv_output_size and the parameter counts; returns the counts."""
    h = 32
    counts = []
    for c_in, c_out in ((3, 8), (8, 16)):
        h = conv_output_size(h, 5)                      # valid 5x5 convolution
        counts.append(conv2d_num_params(c_in, c_out, 5))
        print(f"conv {c_out} @ 5x5: {c_out} x {h} x {h}, {counts[-1]} parameters")
        h = conv_output_size(h, 2, stride=2)            # 2x2 max pooling
        print(f"max pool 2x2:    {c_out} x {h} x {h}")
    sizes = [16 * h * h, 120, 84, 10]
    for d_in, d_out in zip(sizes, sizes[1:]):
        counts.append(linear_num_params(d_in, d_out))
        print(f"fully connected {d_in} -> {d_out}: {counts[-1]} parameters")
    assert counts == [608, 3216, 48120, 10164, 850], counts
    return counts


try:
    lenet5_table()
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
evaluation mode (batch norm behaves differently in the two) and its gradients.

This block is the original, *post-activation* design (He et al., 2015): convolution, batch norm, ReLU,
and a last ReLU after the addition. A year later the same authors proposed the *pre-activation* block,
which reorders each step as batch norm, ReLU, convolution and adds the shortcut at the very end with no
ReLU after it: $y = x + \operatorname{conv}_2(\operatorname{relu}(\operatorname{bn}_2(\operatorname{conv}_1(\operatorname{relu}(\operatorname{bn}_1(x))))))$.
The identity path then runs from input to output untouched, which helps very deep networks train. The
exercise uses the post-activation order."""),
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
    ("markdown", r"""## 8. LeNet-5 as a module

Now build the network of the table above as `LeNet5()`, an `nn.Module` with these attributes (the
checker copies weights into them by name): `conv1` (`Conv2d(3, 8, 5)`), `conv2` (`Conv2d(8, 16, 5)`),
`fc1` (`Linear(400, 120)`), `fc2` (`Linear(120, 84)`) and `fc3` (`Linear(84, 10)`). In `forward`, each
convolution is followed by a ReLU and then a 2x2 max pooling of stride 2; flatten before `fc1`; `fc1` and
`fc2` are followed by a ReLU, and `fc3` returns the 10 scores without one. The original used sigmoid-like
activations and average pooling; ReLU and max pooling are today's choice and the slides'."""),
    ("code", r'''class LeNet5(nn.Module):
    """(N, 3, 32, 32) -> scores (N, 10)."""

    def __init__(self):
        super().__init__()
        raise NotImplementedError("LeNet5.__init__: create conv1, conv2, fc1, fc2 and fc3")

    def forward(self, X):
        raise NotImplementedError("LeNet5.forward")'''),
    ("code", 'from grader import check\ncheck("LeNet5")'),
    ("markdown", r"""## 9. VGG blocks

VGG (Simonyan and Zisserman, 2014) builds a deep network from one repeated block: a few 3x3 convolutions
with "same" padding, each followed by a ReLU, then a 2x2 max pooling of stride 2 that halves the height
and width. Two stacked 3x3 convolutions see a 5x5 region (section 5) with $2 \cdot 9 C^2$ weights
instead of $25 C^2$, and add a non-linearity in between.

Write `vgg_block(num_convs, in_channels, out_channels)`, returning an `nn.Sequential` in exactly this
order: `Conv2d(in_channels, out_channels, 3, padding=1)`, `ReLU()`, then for the remaining convolutions
`Conv2d(out_channels, out_channels, 3, padding=1)`, `ReLU()`, and last `MaxPool2d(2, stride=2)`."""),
    ("code", r'''def vgg_block(num_convs, in_channels, out_channels):
    """nn.Sequential: num_convs x (3x3 convolution with padding 1, ReLU), then 2x2 max pooling.

    (N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2).
    """
    raise NotImplementedError("vgg_block")'''),
    ("code", 'from grader import check\ncheck("vgg_block")'),
    ("markdown", r"""## 10. An Inception block

GoogLeNet's Inception block (Szegedy et al., 2014) looks at its input at several scales at once: four
branches run side by side and their outputs are stacked along the channels. Every branch keeps the
height and width ("same" padding), so the stacking works:

1. `p1_1`: a 1x1 convolution, `in_channels -> c1`;
2. `p2_1`: a 1x1 convolution `in_channels -> c2[0]`, then `p2_2`: 3x3, padding 1, `c2[0] -> c2[1]`;
3. `p3_1`: a 1x1 convolution `in_channels -> c3[0]`, then `p3_2`: 5x5, padding 2, `c3[0] -> c3[1]`;
4. `p4_1`: `MaxPool2d(3, stride=1, padding=1)`, then `p4_2`: a 1x1 convolution `in_channels -> c4`.

Every convolution is followed by a ReLU (the 1x1 ones too). The output is the concatenation of the four
branches in this order along dimension 1: `c1 + c2[1] + c3[1] + c4` channels.

The 1x1 convolutions in branches 2 and 3 are *bottlenecks*: they shrink the number of channels before
the expensive 3x3 and 5x5 kernels. The cell after the check counts what they save."""),
    ("code", r'''class InceptionBlock(nn.Module):
    """Four branches (1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max pool -> 1x1), concatenated along the channels.

    c1, c4: ints; c2, c3: (bottleneck channels, output channels).
    """

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        raise NotImplementedError("InceptionBlock.__init__: create p1_1, p2_1, p2_2, p3_1, p3_2, p4_1 and p4_2")

    def forward(self, X):
        raise NotImplementedError("InceptionBlock.forward")'''),
    ("code", 'from grader import check\ncheck("InceptionBlock")'),
    ("code", r'''def bottleneck_savings(in_channels=192, c1=64, c2=(96, 128), c3=(16, 32), c4=32):
    """Parameters of GoogLeNet's first Inception block (3a) with and without its 1x1 bottlenecks."""
    with_bottlenecks = (conv2d_num_params(in_channels, c1, 1)
                        + conv2d_num_params(in_channels, c2[0], 1) + conv2d_num_params(c2[0], c2[1], 3)
                        + conv2d_num_params(in_channels, c3[0], 1) + conv2d_num_params(c3[0], c3[1], 5)
                        + conv2d_num_params(in_channels, c4, 1))
    without = (conv2d_num_params(in_channels, c1, 1) + conv2d_num_params(in_channels, c2[1], 3)
               + conv2d_num_params(in_channels, c3[1], 5) + conv2d_num_params(in_channels, c4, 1))
    print(f"with 1x1 bottlenecks: {with_bottlenecks:,} parameters; without: {without:,}; "
          f"saved: {without - with_bottlenecks:,} ({1 - with_bottlenecks / without:.0%})")
    try:   # your block agrees, once it passes its check
        block = InceptionBlock(in_channels, c1, c2, c3, c4)
        assert sum(p.numel() for p in block.parameters()) == with_bottlenecks
    except NotImplementedError:
        pass
    return with_bottlenecks, without


try:
    bottleneck_savings()
except NotImplementedError as exc:
    print("finish conv2d_num_params first:", exc)'''),
    ("markdown", r"""## 11. Transposed convolutions and an autoencoder

A *transposed* convolution goes the other way: each input pixel spreads a copy of the kernel, scaled by
its value, onto the output, and the copies of neighbouring pixels are `stride` pixels apart. It is
the gradient of a convolution with respect to its input, and it undoes a convolution's change of
*shape* (not of values). Along one axis, `nn.ConvTranspose2d` gives

$$\text{out} = (\text{size} - 1)\, s - 2p + d(k - 1) + o + 1 ,$$

with $o$ the `output_padding`.

Here `padding` *removes* $p$ pixels from each side of the result. A stride-2 convolution maps both 13
and 14 pixels to 7, so going back is ambiguous: `output_padding` (smaller than the stride or the
dilation) adds that many extra pixels to one side to pick the larger size. Write
`conv_transpose_output_size` and raise `ValueError` when `output_padding` is not smaller than the stride
or the dilation (PyTorch refuses it too) or when the result is 0 or less. Return an int."""),
    ("code", r'''def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length along one axis of nn.ConvTranspose2d (an int >= 1)."""
    raise NotImplementedError("conv_transpose_output_size")'''),
    ("code", 'from grader import check\ncheck("conv_transpose_output_size")'),
    ("markdown", r"""An *autoencoder* squeezes its input through a small code and rebuilds it. Write
`ConvAutoencoder(in_channels=1, hidden=(8, 16))` with `h1, h2 = hidden` and these attributes:

* `enc1`: `Conv2d(in_channels, h1, 3, stride=2, padding=1)`, `enc2`: `Conv2d(h1, h2, 3, stride=2, padding=1)`
* `dec1`: `ConvTranspose2d(h2, h1, 3, stride=2, padding=1)`, `dec2`: `ConvTranspose2d(h1, in_channels, 3, stride=2, padding=1)`

`forward` applies `enc1`, ReLU, `enc2`, ReLU, `dec1`, ReLU, `dec2` and a sigmoid (pixels lie in (0, 1)).
The decoder must restore the input's exact height and width, for every size, also odd ones: a
`ConvTranspose2d` module accepts `output_size=` in its call (`self.dec1(Z, output_size=...)`) and then
picks the output padding itself. Give `dec1` the size of `enc1`'s output and `dec2` the size of `X`."""),
    ("code", r'''class ConvAutoencoder(nn.Module):
    """(N, in_channels, H, W) -> (N, in_channels, H, W), through a code of shape (N, h2, ceil(H/4), ceil(W/4))."""

    def __init__(self, in_channels=1, hidden=(8, 16)):
        super().__init__()
        raise NotImplementedError("ConvAutoencoder.__init__: create enc1, enc2, dec1 and dec2")

    def forward(self, X):
        raise NotImplementedError("ConvAutoencoder.forward")'''),
    ("code", 'from grader import check\ncheck("ConvAutoencoder")'),
    ("markdown", r"""## 12. Fine-tuning a pre-trained network

Transfer learning reuses a network trained on one task for another. Its early layers compute general
features (edges, strokes, textures); only the last layer, the *head*, is specific to the old classes.
So replace the head by a fresh layer with as many outputs as the new task has classes, and train:
either only the new head (*freeze* the rest, which needs few labelled examples and little compute), or
every layer, starting from the pre-trained weights, usually with a small learning rate.

Write `fine_tune(backbone, num_classes, freeze=True)` for a `backbone` that is an `nn.Sequential`
whose last layer is an `nn.Linear`:

* replace `backbone[-1]` by a new `nn.Linear` with the same `in_features` and `num_classes` outputs
  (on the device and dtype of the old one), changing the backbone in place;
* with `freeze=True`, make every other parameter stop requiring gradients (`requires_grad_(False)`);
  the new head stays trainable;
* return a list of the parameters an optimizer should update: the head's with `freeze=True`, every
  parameter of the backbone with `freeze=False`.

The last check runs your function in a small transfer experiment on scikit-learn's 8x8 digits. A
network of two 3x3 convolutions with pooling, pre-trained by the grader on the digits 0-4 (each image
moved by up to one pixel during training), goes through your `fine_tune(backbone, 5, freeze=True)`,
and what you return is trained on just two labelled images of each digit 5-9. On the other images of
5-9, each moved by up to one pixel, it must beat the same network trained from scratch on those ten
images. Over eight draws of the ten, the reference reaches 58-71% where training from scratch reaches
46-59%, and it is 0.07 to 0.18 better on the same images: the pre-trained filters already respond to
strokes wherever they sit, which ten centred images cannot teach. The test images stay with the
grader, so from a student release `check` lists this case as checked at grading. With more labelled
images the gap closes: transfer pays off when labels are scarce and the new task shares the old
one's structure."""),
    ("code", r'''def fine_tune(backbone, num_classes, freeze=True):
    """Give an nn.Sequential a new last nn.Linear with num_classes outputs; return the parameters to train."""
    raise NotImplementedError("fine_tune: replace backbone[-1], freeze the rest, return the trainable parameters")'''),
    ("code", 'from grader import check\ncheck("fine_tune")'),
]


def render() -> str:
    """The notebook as JSON text."""
    return build_notebook(CELLS)


if __name__ == "__main__":
    NOTEBOOK.write_text(render(), encoding="utf-8")
