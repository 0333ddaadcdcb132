"""The figures behind DIGITS_TARGETS (solutions/unit3/checks.py): the reference and some wrong models, measured as the check does.

    python bench/digits_calibration.py [--seeds 12] [--device cpu] [--epochs N]

Trains the reference train_digits with the check's kwargs and seeds 0..N-1, measures both
models exactly as `adversarial_digits` does (grader.drivers.attacks.robust_training_report on
the private test split, with the check's transfer attacks), and prints the worst seed and the
mean of each figure next to the target. Then measures models that must fail: never trained
adversarially, logits scaled by 1e4, a hidden Tanh saturated by huge weights.
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

from grader import drivers  # noqa: E402
from grader.config import load_course  # noqa: E402
from grader.spec.loader import load_unit_spec  # noqa: E402
from grader.drivers import attacks  # noqa: E402
from grader.runner import wire  # noqa: E402


def plain(model: nn.Module) -> list:
    """The model as the worker would send it."""
    return wire.decode(wire.encode(drivers.to_plain(attacks.describe_sequential(model, "train_digits"))))


def scaled(model: nn.Sequential, k: float = 1e4) -> nn.Sequential:
    """The same model with its scores multiplied by k: masks the gradient of cross-entropy."""
    with torch.no_grad():
        model[-1].weight.mul_(k)
        model[-1].bias.mul_(k)
    return model


def tanh_saturated(X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int, k: float = 1e3) -> nn.Sequential:
    """A Tanh network trained normally, then its first layer scaled by k: hidden units become steps."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for start in range(0, len(X), 64):
            optimizer.zero_grad()
            F.cross_entropy(model(X[start:start + 64]), y[start:start + 64]).backward()
            optimizer.step()
    with torch.no_grad():
        model[0].weight.mul_(k)
        model[0].bias.mul_(k)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, help="train for this many epochs instead of the check's")
    args = parser.parse_args(argv)
    course = load_course(ROOT)
    load_unit_spec(course, course.unit("unit3"))
    checks = sys.modules["_grader_course.unit3.checks"]
    reference = sys.modules["_grader_course.unit3.adversarial"]
    torch.set_num_threads(1)
    case = checks.digits_cases(np.random.default_rng(0))[0]   # the held-out check
    inputs = {**wire.decode(wire.encode(case.inputs)), **wire.decode(wire.encode(case.private))}
    ctx = drivers.DriverContext(device=args.device, seed=1)
    X = ctx.tensor(case.inputs["X_train"])
    y = ctx.tensor(case.inputs["y_train"])
    kwargs = dict(case.inputs["kwargs"])
    if args.epochs:
        kwargs["epochs"] = args.epochs
    targets = checks.DIGITS_TARGETS

    def measure(standard: nn.Module, adversarial: nn.Module) -> dict:
        return attacks.robust_training_report({"standard": plain(standard), "adversarial": plain(adversarial)},
                                              inputs, ctx)

    reference.train_digits(X[:64], y[:64], epochs=1)   # the first optimizer imports torch._dynamo: not timed
    rows, seconds = [], []
    for seed in range(args.seeds):
        started = time.perf_counter()
        standard = reference.train_digits(X, y, adversarial=False, **{**kwargs, "seed": seed})
        adversarial = reference.train_digits(X, y, adversarial=True, **{**kwargs, "seed": seed})
        seconds.append(time.perf_counter() - started)
        report = measure(standard, adversarial)
        s, a = report["standard"], report["adversarial"]
        rows.append({"clean": s["clean"], "clean_adv": a["clean"], "robust": a["robust"], "robust_std": s["robust"],
                     "gain": a["robust"] - s["robust"], "sanity": a["own gradients at sanity eps"]})
    print(f"reference, {kwargs}, seeds 0-{args.seeds - 1}, {args.device}: training both models "
          f"{statistics.median(seconds):.2f} s (median)")
    for key, worst in (("clean", min), ("clean_adv", min), ("robust", min), ("robust_std", max), ("gain", min),
                       ("sanity", max)):
        values = [r[key] for r in rows]
        target = targets.get(key)
        print(f"  {key:10s} worst {worst(values):.3f}  mean {statistics.mean(values):.3f}"
              + (f"  target {target:.2f}" if target is not None else ""))
    seed = kwargs.get("seed", 0)
    standard = reference.train_digits(X, y, adversarial=False, **kwargs)
    wrong = {"never adversarial": reference.train_digits(X, y, adversarial=False, **kwargs),
             "logits scaled by 1e4": scaled(reference.train_digits(X, y, adversarial=False, **kwargs)),
             "hidden Tanh saturated": tanh_saturated(X, y, kwargs.get("epochs", 5), seed)}
    for name, model in wrong.items():
        a = measure(standard, model)["adversarial"]
        print(f"  {name:22s} " + ", ".join(f"{k} {v:.2f}" for k, v in a.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
