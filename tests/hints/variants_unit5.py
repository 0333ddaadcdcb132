"""Unit 5 as students write it: convolution arithmetic, convolution and pooling by hand, residual blocks, a ResNet."""
from real_code import Variant


def _wrong(exercise, title, source, hint):
    return Variant("unit5", exercise, title, source, hint)


def _right(exercise, title, source):
    return Variant("unit5", exercise, title, source)


# convolution with explicit loops over the output positions; the pieces students get wrong are slots
CONV_LOOPS = '''
def pad2d(x, p):
    if p == 0:
        return x
    N, C, H, W = x.shape
    out = x.new_zeros(N, C, H + 2 * p, W + 2 * p)
    out[:, :, p:p + H, p:p + W] = x
    return out

def conv2d_forward(x, w, b, stride=1, padding=0):
    x = PADDED
    F_, C, KH, KW = w.shape
    N, _, H, W = x.shape
    OH = (H - KH) // stride + 1
    OW = (W - KW) // stride + 1
    kernel = KERNEL
    out = x.new_zeros(N, F_, OH, OW)
    for i in range(OH):
        for j in range(OW):
            patch = x[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]   # (N, C, KH, KW)
            out[:, :, i, j] = torch.tensordot(patch, kernel, dims=([1, 2, 3], [1, 2, 3]))
    return out + BIAS
'''


def _conv(padded="pad2d(x, padding)", kernel="w", bias="b.reshape(1, -1, 1, 1)"):
    return CONV_LOOPS.replace("PADDED", padded).replace("KERNEL", kernel).replace("BIAS", bias)


POOL_LOOPS = '''
def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if stride is None:
        stride = DEFAULT_STRIDE
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    N, C, H, W = x.shape
    padded = x.new_full((N, C, H + 2 * padding, W + 2 * padding), FILL)
    padded[:, :, padding:padding + H, padding:padding + W] = x
    OH = (H + 2 * padding - kh) // sh + 1
    OW = (W + 2 * padding - kw) // sw + 1
    out = x.new_empty(N, C, OH, OW)
    for i in range(OH):
        for j in range(OW):
            window = padded[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = window.amax(dim=(2, 3))
    return out
'''


def _pool(default_stride="kernel_size", fill="float('-inf')"):
    return POOL_LOOPS.replace("DEFAULT_STRIDE", default_stride).replace("FILL", fill)


BLOCK = '''
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, use_1x1conv=False, stride=1):
        super().__init__()
        CHECK
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1, stride=stride) if use_1x1conv else None
        self.relu = nn.ReLU()

    def forward(self, X):
        Y = MAIN
        if self.conv3 is not None:
            X = self.conv3(X)
        return OUT
'''
RAISE = ('if not use_1x1conv and (in_channels != out_channels or stride != 1):\n'
         '            raise ValueError("the shortcut needs a 1x1 convolution")')
MAIN = "self.bn2(self.conv2(self.relu(self.bn1(self.conv1(X)))))"


def _block(check=RAISE, main=MAIN, out="self.relu(Y + X)"):
    return BLOCK.replace("CHECK", check).replace("MAIN", main).replace("OUT", out)


RESNET = _block() + '''
class SmallResNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, channels=(64, 128, 256), num_blocks=2):
        super().__init__()
        c1, c2, c3 = channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c1, 7, stride=2, padding=3), nn.BatchNorm2d(c1),
                                  nn.ReLU()POOL)
        stages = []
        for k, (cin, cout) in enumerate([(c1, c1), (c1, c2), (c2, c3)]):
            blocks = []
            for i in range(num_blocks):
                if i == 0 and k > 0:
                    blocks.append(ResidualBlock(cin, cout, use_1x1conv=True, stride=2))
                else:
                    blocks.append(ResidualBlock(cout, cout))
            stages.append(nn.Sequential(*blocks))
        self.stage1, self.stage2, self.stage3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c3, num_classes)

    def forward(self, X):
        X = self.stage3(self.stage2(self.stage1(self.stem(X))))
        return self.fc(self.pool(X).flatten(1))
'''

WRONG = [
    _wrong("conv_output_size", "no +1", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride)
    if out <= 0:
        raise ValueError("kernel does not fit")
    return out
''', "add 1 after the division"),
    _wrong("conv_output_size", "rounds up", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    out = math.ceil((size + 2 * padding - span) / stride) + 1
    if out < 1:
        raise ValueError(out)
    return out
''', "round down (floor)"),
    _wrong("conv_output_size", "no dilation", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    n = (size - kernel_size + 2 * padding) // stride + 1
    if n < 1:
        raise ValueError(f"output size {n}")
    return n
''', "a dilated kernel spans"),
    _wrong("conv2d_forward", "flipped kernel, loops", _conv(kernel="torch.flip(w, dims=(2, 3))"), "do not flip the kernel"),
    _wrong("conv2d_forward", "no bias, loops", _conv(bias="0"), "add the bias b[f]"),
    _wrong("conv2d_forward", "padding ignored, loops", _conv(padded="x"), "pad the input"),
    _wrong("maxpool2d_forward", "zero padding, loops", _pool(fill="0.0"), "pad with -inf, not zeros"),
    _wrong("maxpool2d_forward", "stride defaults to 1, loops", _pool(default_stride="1"), "when stride is None"),
    _wrong("conv2d_num_params", "no bias", '''
def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    return in_channels * out_channels * kh * kw
''', "count the biases"),
    _wrong("linear_num_params", "a bias per input", '''
def linear_num_params(in_features, out_features, bias=True):
    weights = in_features * out_features
    return weights + in_features if bias else weights
''', "not per input feature"),
    _wrong("receptive_field", "ignores strides", '''
def receptive_field(layers):
    r = 1
    for k, s in layers:
        r = r + k - 1
    return r
''', "strides matter"),
    _wrong("ResidualBlock", "extra ReLU before the addition", _block(main=f"self.relu({MAIN})"),
           "remove the extra ReLU between bn2 and the addition"),
    _wrong("ResidualBlock", "ReLU moved before the addition", _block(main=f"self.relu({MAIN})", out="Y + X"),
           "no ReLU between bn2 and the addition"),
    _wrong("ResidualBlock", "extra ReLU before bn1", _block(
        main="self.bn2(self.conv2(self.relu(self.bn1(self.relu(self.conv1(X))))))"), "remove the extra ReLU between conv1 and bn1"),
    _wrong("ResidualBlock", "no check for an impossible shortcut", _block(check="pass"), "raise ValueError in __init__"),
    _wrong("small_resnet", "no max pooling", RESNET.replace("POOL", ""), "ends with a 3x3 max pooling"),
    # two bugs at once, and bugs the catalogue does not name ---------------------------
    _wrong("conv2d_forward", "flipped kernel and no bias, loops", _conv(kernel="w.flip(2).flip(3)", bias="0"),
           "add the bias b[f]"),   # a 1x1 kernel shows the second bug alone
    _wrong("maxpool2d_forward", "average pooling, loops", POOL_LOOPS.replace("DEFAULT_STRIDE", "kernel_size").replace(
        "FILL", "float('-inf')").replace("window.amax(dim=(2, 3))", "window.mean(dim=(2, 3))"), "not the mean"),
    _wrong("conv_output_size", "no +1 and no dilation", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + 2 * padding - kernel_size) // stride
    if out <= 0:
        raise ValueError(out)
    return out
''', "add 1 after the division"),   # on every size the dilation mistake alone gives another number
    # handles dilation but returns a float and never raises: the dilation mistake also returns without an
    # error on the too-small dilated input, but another number; only the missing check is this code's mistake
    _wrong("conv_output_size", "float, never raises", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1
''', "raise ValueError when the output size"),
]

CORRECT = [
    _right("conv_output_size", "floor of a float", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = int(math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1))
    if out < 1:
        raise ValueError(f"kernel too large: output size {out}")
    return out
'''),
    _right("conv2d_forward", "loops over positions", _conv()),
    _right("maxpool2d_forward", "loops over positions", _pool()),
    _right("receptive_field", "from the last layer back", '''
def receptive_field(layers):
    r = 1
    for k, s in reversed(layers):
        r = s * r + (k - s)
    return r
'''),
    _right("ResidualBlock", "ReLU module", _block()),
    _right("small_resnet", "stages in a loop", RESNET.replace(
        "POOL", ",\n                                  nn.MaxPool2d(3, stride=2, padding=1)")),
]

# classic architectures, transposed convolutions and fine-tuning ---------------------------
LENET = '''
import torch
from torch import nn

class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=5)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.pool = POOL
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))   # (N, 8, 14, 14)
        x = self.pool(self.act(self.conv2(x)))   # (N, 16, 5, 5)
        x = x.view(x.size(0), -1)
        x = HIDDEN
        return self.fc3(x)
'''


def _lenet(pool="nn.MaxPool2d(2, 2)", hidden="self.act(self.fc2(self.act(self.fc1(x))))"):
    return LENET.replace("POOL", pool).replace("HIDDEN", hidden)


VGG = '''
from torch import nn

def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    channels = in_channels
    for _ in range(num_convs):
        layers += [nn.Conv2d(channels, out_channels, kernel_size=3, padding=PAD), nn.ReLU()]
        channels = out_channels
    TAIL
    return nn.Sequential(*layers)
'''


def _vgg(pad="1", tail="layers.append(nn.MaxPool2d(kernel_size=2, stride=2))"):
    return VGG.replace("PAD", pad).replace("TAIL", tail)


TRANSPOSE = '''
def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    if output_padding >= stride and output_padding >= dilation:
        raise ValueError("output_padding must be smaller than stride or dilation")
    span = dilation * (kernel_size - 1) + 1      # pixels one kernel covers
    out = GROWN
    if out < 1:
        raise ValueError(f"no output: {out}")
    return out
'''
T_RIGHT = "(size - 1) * stride + span - 2 * padding + output_padding"

AUTOENCODER = '''
import torch
from torch import nn

class ConvAutoencoder(nn.Module):
    def __init__(self, in_channels=1, hidden=(8, 16)):
        super().__init__()
        h1, h2 = hidden
        self.enc1 = nn.Conv2d(in_channels, h1, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(h1, h2, 3, stride=2, padding=1)
        self.dec1 = nn.ConvTranspose2d(h2, h1, 3, stride=2, padding=1, output_padding=1)
        self.dec2 = nn.ConvTranspose2d(h1, in_channels, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        h = torch.relu(self.enc1(x))
        z = torch.relu(self.enc2(h))
        y = torch.relu(self.dec1(z, output_size=SIZE1))
        return torch.sigmoid(self.dec2(y, output_size=SIZE2))
'''

FINE_TUNE = '''
from torch import nn

def fine_tune(backbone, num_classes, freeze=True):
    in_features = backbone[-1].in_features
    FREEZE
    backbone[-1] = nn.Linear(in_features, num_classes)
    RETURN
'''
FREEZE_BODY = "for name, p in backbone.named_parameters():\n        p.requires_grad = not freeze"
RETURN_TRAINABLE = "return [p for p in backbone.parameters() if p.requires_grad]"


def _fine_tune(freeze=FREEZE_BODY, ret=RETURN_TRAINABLE):
    return FINE_TUNE.replace("FREEZE", freeze).replace("RETURN", ret)


WRONG += [
    _wrong("LeNet5", "average pooling module", _lenet(pool="nn.AvgPool2d(2)"), "not average pooling"),
    _wrong("LeNet5", "no ReLU between the dense layers", _lenet(hidden="self.fc2(self.fc1(x))"),
           "apply a ReLU after fc1 and after fc2"),
    _wrong("vgg_block", "valid convolutions", _vgg(pad="0"), "'same' padding"),
    _wrong("vgg_block", "forgot the pooling", _vgg(tail="pass"), "end the block with MaxPool2d"),
    _wrong("conv_transpose_output_size", "convolution formula", TRANSPOSE.replace(
        "GROWN", "(size + 2 * padding - span) // stride + 1"), "not the convolution's formula"),
    _wrong("conv_transpose_output_size", "output_padding forgotten", TRANSPOSE.replace(
        "GROWN", T_RIGHT.replace(" + output_padding", "")), "add output_padding"),
    _wrong("ConvAutoencoder", "sizes left to output_padding", AUTOENCODER.replace(
        ", output_size=SIZE1", "").replace(", output_size=SIZE2", ""), "pass output_size="),
    _wrong("fine_tune", "freezes before, then returns everything", _fine_tune(ret="return list(backbone.parameters())"),
           "return only the parameters that are trained"),
    _wrong("fine_tune", "freezes after replacing the head", FINE_TUNE.replace("    FREEZE\n", "").replace(
        "RETURN", FREEZE_BODY + "\n    " + RETURN_TRAINABLE), "the new head must stay trainable"),
]

CORRECT += [
    _right("LeNet5", "pooling and activation modules", _lenet()),
    _right("vgg_block", "running channel count", _vgg()),
    _right("conv_transpose_output_size", "via the kernel's span", TRANSPOSE.replace("GROWN", T_RIGHT)),
    _right("ConvAutoencoder", "output_padding set, output_size given", AUTOENCODER.replace(
        "SIZE1", "h.shape[-2:]").replace("SIZE2", "x.shape[-2:]")),
    _right("fine_tune", "named_parameters loop", _fine_tune()),
]
