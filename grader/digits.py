"""scikit-learn's 8x8 digits, the one real image set checks may use (nothing is downloaded)."""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np


@functools.lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(pixels (1797, 64) float32 in [0, 1], labels (1797,) int64), in scikit-learn's order.

    Read from the CSV file scikit-learn bundles, as its load_digits does: importing scikit-learn
    would add about 1.5 s to every plan that uses them.
    """
    spec = importlib.util.find_spec("sklearn")   # finds the package without importing it
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is not None and path.is_file():
        data = np.loadtxt(path, delimiter=",")
        pixels, labels = data[:, :-1], data[:, -1]
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels, labels = digits.data, digits.target
    return (pixels / 16.0).astype(np.float32), labels.astype(np.int64)
