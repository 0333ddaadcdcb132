"""Winnowed fingerprints of a student's code and the overlap of two of them, with copydetect.

copydetect (MOSS's winnowing over pygments tokens) does the work: `filter_code`
turns every identifier into V, function names into F, class names into O, strings
into S and drops whitespace and comments; `winnow`, `find_fingerprint_overlap`,
`get_copied_slices` and `compare_files` do the rest. One step is ours:
copydetect hashes k-grams with Python's `hash()`, which is salted per process,
so the fingerprints winnowing keeps, and with them the scores, would change from
one run to the next. `fingerprint` hashes the k-grams with BLAKE2b instead, so
the same class gives the same scores every time.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

try:
    from copydetect.detector import compare_files
    from copydetect.utils import filter_code, get_token_coverage, winnow
except ImportError:   # the optional extra is missing: the command says how to install it
    compare_files = filter_code = get_token_coverage = winnow = None

NOISE = 25     # k: the shortest match that counts, in characters of filtered code (copydetect's default)
GUARANTEE = 30  # a match this long is always found; the window is GUARANTEE - NOISE + 1 k-grams


def available() -> bool:
    """Whether copydetect is installed (the `similarity` extra)."""
    return filter_code is not None


@dataclass
class Fingerprint:
    """What copydetect's `compare_files` reads from a CodeFingerprint, computed with a stable hash."""

    filename: str
    raw_code: str
    filtered_code: str
    offsets: np.ndarray
    hashes: set[int]
    hash_idx: dict[int, list[int]]
    k: int
    token_coverage: float

    @property
    def size(self) -> int:
        """Characters of filtered code (about two per token)."""
        return len(self.filtered_code)


def fingerprint(name: str, code: str, boilerplate: np.ndarray | None = None) -> Fingerprint:
    """Tokenise, filter and winnow `code`; hashes also found in `boilerplate` are left out."""
    filtered, offsets = filter_code(code, name, "python")
    hashes = _kgram_hashes(filtered, NOISE)
    if len(hashes):
        kept, idx = winnow(hashes, GUARANTEE - NOISE + 1, remove_duplicates=False)
    else:
        kept, idx = hashes, np.array([], dtype=np.int64)
    if boilerplate is not None and len(boilerplate) and len(kept):
        drop = np.isin(kept, boilerplate)
        kept, idx = kept[~drop], idx[~drop]
    hash_idx: dict[int, list[int]] = {}
    for value, index in zip(kept.tolist(), idx.tolist()):
        hash_idx.setdefault(value, []).append(index)
    coverage = get_token_coverage(hash_idx, NOISE, len(filtered)) if filtered else 0.0
    return Fingerprint(name, code, filtered, offsets, set(hash_idx), hash_idx, NOISE, float(coverage))


def boilerplate_hashes(code: str) -> np.ndarray:
    """Every k-gram hash of code everyone was given (the released starter), to leave out of all fingerprints."""
    filtered, _ = filter_code(code, "starter.py", "python")
    return np.unique(_kgram_hashes(filtered, NOISE))


@dataclass(frozen=True)
class Overlap:
    shares: tuple[float, float]              # the share of each side's fingerprinted code that the other matches
    slices: tuple[np.ndarray, np.ndarray]    # each side's matching regions: 2 x M arrays of [start, end) in raw_code


def overlap(a: Fingerprint, b: Fingerprint) -> Overlap:
    """copydetect's comparison of two fingerprints."""
    if not a.hashes or not b.hashes or not (a.hashes & b.hashes):
        empty = np.zeros((2, 0), dtype=np.int64)
        return Overlap((0.0, 0.0), (empty, empty))
    _, (share_a, share_b), (slices_a, slices_b) = compare_files(a, b)
    return Overlap((min(float(share_a), 1.0), min(float(share_b), 1.0)),
                   (np.asarray(slices_a, dtype=np.int64), np.asarray(slices_b, dtype=np.int64)))


def _kgram_hashes(text: str, k: int) -> np.ndarray:
    """A stable 63-bit hash of every k-character window of `text`."""
    data = text.encode("utf-8", "surrogatepass")
    if len(text) != len(data):   # keep indices in characters: hash each window's characters
        windows = (text[i:i + k].encode("utf-8", "surrogatepass") for i in range(len(text) - k + 1))
    else:
        windows = (data[i:i + k] for i in range(len(data) - k + 1))
    values = [int.from_bytes(hashlib.blake2b(w, digest_size=8).digest(), "little") >> 1 for w in windows]
    return np.array(values, dtype=np.int64)

