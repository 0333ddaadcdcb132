"""Unit 2 reference: weight initialisation schemes, and how activations fare through depth."""
import math

import torch

# scheme -> (distribution, variance as a function of (fan_in, fan_out))
SCHEMES = {
    "xavier_uniform": ("uniform", lambda fan_in, fan_out: 2.0 / (fan_in + fan_out)),
    "xavier_normal": ("normal", lambda fan_in, fan_out: 2.0 / (fan_in + fan_out)),
    "he_uniform": ("uniform", lambda fan_in, fan_out: 2.0 / fan_in),
    "he_normal": ("normal", lambda fan_in, fan_out: 2.0 / fan_in),
    "lecun_normal": ("normal", lambda fan_in, fan_out: 1.0 / fan_in),
}
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda z: z}


def fans(shape):
    """(fan_in, fan_out) of a weight of shape (out, in) or (out, in, kh, kw), as torch.nn.init counts them."""
    receptive_field = math.prod(shape[2:])                 # kh * kw for a conv, 1 for a linear layer
    return shape[1] * receptive_field, shape[0] * receptive_field


def init_weight(shape, scheme, generator=None):
    """A float32 weight of this shape drawn with zero mean and the scheme's variance."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions (out, in, ...), got shape {shape}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; use one of {sorted(SCHEMES)}")
    distribution, variance = SCHEMES[scheme]
    std = math.sqrt(variance(*fans(shape)))
    device = generator.device if generator is not None else None
    w = torch.empty(shape, device=device)
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std                        # U(-a, a) has variance a^2 / 3
        return w.uniform_(-bound, bound, generator=generator)
    return w.normal_(0.0, std, generator=generator)


def activation_variance_through_depth(x, depth, scheme, activation="relu", generator=None):
    """Variance of the activations after each of `depth` bias-free square layers initialised with `scheme`.

    x: (N, width) inputs; returns a (depth,) tensor in x's dtype.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}")
    g = ACTIVATIONS[activation]
    h, width = x, x.shape[1]
    variances = []
    for _ in range(depth):
        W = init_weight((width, width), scheme, generator).to(x.device, x.dtype)   # (width, width)
        h = g(h @ W.T)                                                              # (N, width)
        variances.append(h.var())
    return torch.stack(variances)
