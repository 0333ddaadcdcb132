"""Does fine-tuning beat training from scratch on digits? The figures behind TRANSFER_TARGETS (solutions/unit5/checks.py).

    python bench/transfer_calibration.py [--draws 8] [--shots 2] [--write-backbone]

The check's backbone (grader.drivers.finetune.digits_cnn: two 3x3 convolutions with pooling and a
Linear head) is pre-trained on scikit-learn's digits 0-4, with each image moved by up to one pixel
every epoch. --write-backbone trains it and writes the weights the check ships
(solutions/unit5/digits_backbone.npz); otherwise they are read from that file. For each draw,
`shots` labelled images of each digit 5-9 are taken, the `transfer_digits` driver runs the reference
fine_tune (and each catalogued mistake) on them exactly as the check does, and the trusted side
measures accuracy on the other images of 5-9, each moved by up to one pixel (a fixed draw), next
to the same network trained from scratch on the same images. Prints the worst draw, the mean and
the best draw of each figure, and the time the worker's part takes.
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

from grader import drivers  # noqa: E402
from grader.config import load_course  # noqa: E402
from grader.drivers import finetune  # noqa: E402
from grader.drivers.base import CheckProblem  # noqa: E402
from grader.runner import wire  # noqa: E402
from grader.spec.loader import load_unit_spec  # noqa: E402


def pretrain(X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int = 0) -> list[np.ndarray]:
    """The backbone trained on (X, y): Adam, mini-batches of 64, every image shifted afresh each epoch."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = finetune.digits_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for start in range(0, len(X), 64):
            rows = order[start:start + 64]
            optimizer.zero_grad()
            F.cross_entropy(model(finetune.shift_images(X[rows], generator)), y[rows]).backward()
            optimizer.step()
    print(f"pre-trained on {len(X)} images of 0-4, accuracy on them {finetune.accuracy(model, X, y):.3f}")
    return [p.detach().numpy().copy() for p in model.parameters()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--shots", type=int, default=None, help="images per digit (default: the check's)")
    parser.add_argument("--write-backbone", action="store_true")
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    args = parser.parse_args(argv)
    course = load_course(ROOT)
    load_unit_spec(course, course.unit("unit5"))
    checks = sys.modules["_grader_course.unit5.checks"]
    reference = sys.modules["_grader_course.unit5.architectures"]
    mistakes = sys.modules["_grader_course.unit5.mistakes"]
    torch.set_num_threads(1)
    if args.write_backbone:
        X, y = checks._digits()
        old = y < 5
        started = time.perf_counter()
        weights = pretrain(torch.from_numpy(X[old]), torch.from_numpy(y[old]), args.pretrain_epochs)
        np.savez(checks.BACKBONE_PATH, *weights)
        print(f"wrote {checks.BACKBONE_PATH} ({time.perf_counter() - started:.1f} s)")
        checks._backbone.cache_clear()
    candidates = {"reference": reference.fine_tune,
                  "no freeze": mistakes.fine_tune_no_freeze, "returns all": mistakes.fine_tune_returns_all,
                  "head frozen": mistakes.fine_tune_head_frozen, "old head kept": mistakes.fine_tune_old_head}
    figures: dict[str, list[float]] = {"scratch": [], **{label: [] for label in candidates}}
    gains: dict[str, list[float]] = {label: [] for label in candidates}
    seconds = []
    ctx = drivers.DriverContext(device="cpu", seed=1)
    shots = args.shots or checks.TRANSFER_SHOTS
    for draw in range(args.draws):
        case = checks.transfer_case(draw, shots)
        inputs = wire.decode(wire.encode(case.inputs))
        trusted = {**inputs, **wire.decode(wire.encode(case.private))}
        for label, fn in candidates.items():
            tick = time.perf_counter()
            try:
                raw = wire.decode(wire.encode(drivers.to_plain(
                    drivers.get("transfer_digits")({"fine_tune": fn}, dict(inputs), ctx))))
            except CheckProblem as problem:
                print(f"  draw {draw}, {label}: {type(problem).__name__}: {problem}")
                continue
            if label == "reference":
                seconds.append(time.perf_counter() - tick)
            report = finetune.transfer_report(raw, trusted, ctx)
            figures[label].append(report["fine-tuned"])
            gains[label].append(report["gain"])
        figures["scratch"].append(report["scratch"])
    print(f"{shots} labelled image(s) per digit 5-9, draws 0-{args.draws - 1}; the worker's part takes "
          f"{statistics.median(seconds):.3f} s (median); targets {checks.TRANSFER_TARGETS}")
    for label, values in figures.items():
        if values:
            print(f"  accuracy {label:14s} worst {min(values):.3f}  mean {statistics.mean(values):.3f}  "
                  f"best {max(values):.3f}")
    for label, values in gains.items():
        if values:
            print(f"  gain     {label:14s} worst {min(values):+.3f}  mean {statistics.mean(values):+.3f}  "
                  f"best {max(values):+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
