"""Does fine-tuning beat training from scratch on digits? The figures a transfer check's thresholds would come from.

    python bench/transfer_calibration.py [--seeds 8] [--shots 1 3 5] [--arch conv|deep|mlp] [--epochs 50]

A backbone is pre-trained on scikit-learn's digits 0-4 (the reference network below, Adam,
mini-batches of 64). For each seed, `shots` labelled images of each digit 5-9 are drawn; the
reference `fine_tune` (solutions/unit5/architectures.py) replaces the head and the network is
trained on them (freeze=True: the head only; freeze=False: every layer from the pre-trained
weights), and the same network is trained from scratch on the same images. All are tested on
the remaining images of 5-9. Prints the worst seed, the mean and the best seed of each, and the
time one fine-tuning takes. A check "fine-tuned beats scratch" needs the fine-tuned worst seed
clearly above the scratch best seed; the script says whether that holds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from grader.config import load_course  # noqa: E402
from grader.spec.loader import load_unit_spec  # noqa: E402


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as (N, 1, 8, 8) images in [0, 1] and their labels, in a fixed shuffled order."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    X = torch.tensor(data.data[order] / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    return X, torch.tensor(data.target[order])


def network(arch: str, seed: int) -> nn.Sequential:
    """The backbone with a 5-class head; conv: 3x3 convolution, ReLU, 2x2 pooling; deep: three of them; mlp: one hidden layer."""
    torch.manual_seed(seed)
    if arch == "deep":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 2 * 2, 5))
    if arch == "conv":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(16 * 4 * 4, 5))
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 5))


def train(model: nn.Module, params: list, X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int,
          batch: int | None = None, lr: float = 0.01) -> nn.Module:
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(params, lr=lr)
    size = batch or len(X)
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for start in range(0, len(X), size):
            rows = order[start:start + size]
            optimizer.zero_grad()
            F.cross_entropy(model(X[rows]), y[rows]).backward()
            optimizer.step()
    return model


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).double().mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--arch", choices=("conv", "deep", "mlp"), default="conv")
    parser.add_argument("--epochs", type=int, default=50, help="fine-tuning and from-scratch epochs (full batch)")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    args = parser.parse_args(argv)
    course = load_course(ROOT)
    load_unit_spec(course, course.unit("unit5"))
    fine_tune = sys.modules["_grader_course.unit5.architectures"].fine_tune
    torch.set_num_threads(1)
    X, y = digits()
    old, new = y < 5, y >= 5
    X_old, y_old, X_new, y_new = X[old], y[old], X[new], y[new] - 5
    started = time.perf_counter()
    backbone = network(args.arch, 0)
    train(backbone, list(backbone.parameters()), X_old, y_old, args.pretrain_epochs, 0, batch=64)
    print(f"{args.arch} backbone pre-trained on {len(X_old)} images of 0-4 in {time.perf_counter() - started:.2f} s, "
          f"accuracy on them {accuracy(backbone, X_old, y_old):.3f}; {args.epochs} epochs on the few examples")
    state = backbone.state_dict()
    for shots in args.shots:
        figures: dict[str, list[float]] = {"freeze=True": [], "freeze=False": [], "scratch": []}
        seconds = []
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            rows = np.concatenate([rng.choice(np.flatnonzero(y_new.numpy() == c), shots, replace=False)
                                   for c in range(5)])
            test = np.setdiff1d(np.arange(len(X_new)), rows)
            for freeze in (True, False):
                model = network(args.arch, 0)
                model.load_state_dict(state)
                tick = time.perf_counter()
                params = fine_tune(model, 5, freeze=freeze)
                train(model, params, X_new[rows], y_new[rows], args.epochs, seed)
                seconds.append(time.perf_counter() - tick)
                figures[f"freeze={freeze}"].append(accuracy(model, X_new[test], y_new[test]))
            scratch = network(args.arch, 100 + seed)
            train(scratch, list(scratch.parameters()), X_new[rows], y_new[rows], args.epochs, seed)
            figures["scratch"].append(accuracy(scratch, X_new[test], y_new[test]))
        print(f"{shots} labelled image(s) per digit 5-9, seeds 0-{args.seeds - 1}, one fine-tuning "
              f"{statistics.median(seconds):.3f} s (median):")
        for label, values in figures.items():
            print(f"  {label:13s} worst {min(values):.3f}  mean {statistics.mean(values):.3f}  best {max(values):.3f}")
        paired = [a - b for a, b in zip(figures["freeze=True"], figures["scratch"])]
        print(f"  freeze=True minus scratch on the same images: mean {statistics.mean(paired):+.3f}, "
              f"better on {sum(d > 0 for d in paired)} of {len(paired)} seeds")
        margin = min(figures["freeze=True"]) - max(figures["scratch"])
        print(f"  fine-tuned worst minus scratch best: {margin:+.3f} "
              + ("(a threshold fits between them)" if margin > 0.02 else "(no threshold separates them)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
