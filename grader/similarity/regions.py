"""Which highlighted region of one student's code matches which region of the other's, for the pair pages.

copydetect's slices merge every run of matching k-grams into one region, so two copied
functions that stand next to each other become one block, and the slices do not say which
region of one side matches which of the other. Here each side's regions are cut at every
top-level definition and at the cell headers, and each region is paired with the region of
the other side it shares the most fingerprints with.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fingerprint import Fingerprint, Overlap

STARTS = ("def ", "async def ", "class ", "@")


@dataclass(frozen=True)
class Regions:
    a: np.ndarray            # 2 x M: [start, end) of each region of a's compared text
    b: np.ndarray            # 2 x N, for b
    a_partner: list[int]     # for each region of a, the region of b it matches most (-1: none)
    b_partner: list[int]     # the other way round


def matching_regions(fa: Fingerprint, fb: Fingerprint, found: Overlap) -> Regions:
    """Split both sides' matching regions at definitions and pair them by shared fingerprints."""
    ra, rb = split(fa.raw_code, found.slices[0]), split(fb.raw_code, found.slices[1])
    votes: dict[tuple[int, int], int] = {}
    for h in fa.hashes & fb.hashes:
        in_a = [i for i in _region_of(ra, _raw(fa, fa.hash_idx[h])) if i >= 0]
        in_b = [j for j in _region_of(rb, _raw(fb, fb.hash_idx[h])) if j >= 0]
        for i in in_a:
            for j in in_b:
                votes[(i, j)] = votes.get((i, j), 0) + 1
    a_partner, b_partner = [-1] * ra.shape[1], [-1] * rb.shape[1]
    for i, j in sorted(votes, key=lambda pair: (-votes[pair], pair)):
        if a_partner[i] == -1:
            a_partner[i] = j
        if b_partner[j] == -1:
            b_partner[j] = i
    return Regions(ra, rb, a_partner, b_partner)


def split(code: str, slices: np.ndarray) -> np.ndarray:
    """`slices` (2 x M, sorted) cut at each top-level definition and without the cell header lines."""
    cuts = _cuts(code)
    parts: list[tuple[int, int]] = []
    for start, end in zip(slices[0].tolist(), slices[1].tolist()) if slices.size else ():
        at = start
        for c0, c1 in cuts:
            if c1 < at or c0 >= end:
                continue
            if c0 > at:
                parts.append((at, c0))
            at = max(at, c1)
        if at < end:
            parts.append((at, end))
    kept = [(s, e) for s, e in parts if code[s:e].strip()]
    return np.array(kept, dtype=np.int64).T.reshape(2, -1)


def _cuts(code: str) -> list[tuple[int, int]]:
    """(start, end) spans to cut regions at: a header line `# file, cell n` whole, a definition's first
    character (a zero-width cut), in order."""
    cuts, position, previous = [], 0, ""
    for line in code.splitlines(keepends=True):
        if line.startswith("# "):
            cuts.append((position, position + len(line)))
        elif line.startswith(STARTS) and not previous.startswith("@"):
            cuts.append((position, position))
        previous = line
        position += len(line)
    return cuts


def _raw(f: Fingerprint, positions: list[int]) -> np.ndarray:
    """Positions in the filtered code -> positions in the compared text (as copydetect maps its slices)."""
    pos = np.asarray(positions, dtype=np.int64)
    if not len(f.offsets):
        return pos
    table = f.offsets
    return pos + table[:, 1][np.clip(np.searchsorted(table[:, 0], pos), 0, table.shape[0] - 1)]


def _region_of(regions: np.ndarray, positions: np.ndarray) -> list[int]:
    """The region each position falls in, or -1."""
    if not regions.size:
        return [-1] * len(positions)
    index = np.searchsorted(regions[0], positions, side="right") - 1
    return [int(i) if i >= 0 and p < regions[1, i] else -1 for i, p in zip(index.tolist(), positions.tolist())]
