"""How well `grader similarity` ranks disguised copies above independent work, with numbers.

    python bench/similarity_calibration.py [--keep DIR] [--class200]

Builds a class of Unit 1 submissions from five independent, correct solutions written in
different styles (the reference in solutions/unit1 and the four in bench/similarity_styles/),
each handed in as a filled-in starter notebook, plus disguised copies of each
(bench/similarity_disguise.py, levels 1 to 5: renamed; + reordered; + comments and prints;
+ loops <-> comprehensions; + commuted operands), as notebooks or .py files, and "half
copies" (half the functions of one style, disguised, the rest from another). Then runs
the real `similarity_report` on it and prints:

* the copies' and the independent pairs' scores: the lowest copy, the highest independent pair;
* ROC AUC (the chance that a random copy pair outscores a random independent pair) for the
  pair score as the larger share, the mean and the smaller share of the two;
* precision and recall of "score >= T" for several thresholds;
* the lowest score at each disguise level, and the half copies' scores.

--class200 also times `grader similarity` (compare and write the pages) on the 200-student
class of bench/batch_throughput.py.
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "examples"))

from similarity_disguise import EXERCISES, LEVELS, disguise  # noqa: E402

from grader.config import load_course  # noqa: E402
from grader.similarity.report import Options, similarity_report, write_report  # noqa: E402

STARTER = ROOT / "exercises" / "unit1" / "shallow_networks.ipynb"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def styles() -> dict[str, str]:
    """Style name -> one module with all ten Unit 1 solutions."""
    reference = (ROOT / "solutions" / "unit1" / "shallow.py").read_text() + "\nfrom torch import nn\n\n" + \
        "\n".join((ROOT / "solutions" / "unit1" / "autoencoder.py").read_text().splitlines()[3:])
    found = {"reference": reference}
    for path in sorted((ROOT / "bench" / "similarity_styles").glob("style_*.py")):
        found[path.stem.removeprefix("style_")] = path.read_text()
    return found


def as_notebook(source: str) -> str:
    """The released starter notebook with each stub cell replaced by this module's definition of it."""
    nb = json.loads(STARTER.read_text())
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)

    def text(node: ast.stmt) -> str:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "".join(lines[first - 1:node.end_lineno])

    imports = "".join(text(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    defs = {n.name: text(n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in EXERCISES}
    helpers = "\n\n".join(text(n) for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))
                          and getattr(n, "name", None) not in EXERCISES)
    first = True
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        if src.strip() == "import torch":
            cell["source"] = imports
            continue
        try:
            names = [n.name for n in ast.parse(src).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        except SyntaxError:
            continue
        if names and names[0] in defs:
            body = (helpers + "\n\n\n" if first and helpers else "") + defs[names[0]]
            cell["source"] = body
            first = False
    return json.dumps(nb, indent=1)


def build_class(dest: Path) -> dict[str, tuple[str, str]]:
    """Write the calibration class; student -> (style it comes from, what it is)."""
    who: dict[str, tuple[str, str]] = {}
    found = styles()
    for s_index, (style, source) in enumerate(found.items()):
        _hand_in(dest, f"{style}-own", as_notebook(source), ".ipynb")
        who[f"{style}-own"] = (style, "own")
        for level in range(1, len(LEVELS) + 1):
            copy = disguise(source, level, seed=100 * s_index + level)
            student = f"{style}-copy{level}"
            if level % 2:   # odd levels as notebooks, even ones as .py files
                _hand_in(dest, student, as_notebook(copy), ".ipynb")
            else:
                _hand_in(dest, student, copy, ".py")
            who[student] = (style, f"copy{level}")
    names = list(found)
    for i, style in enumerate(names):   # half copies: half the functions of `style`, disguised, the rest from the next style
        other = names[(i + 1) % len(names)]
        half = _half(disguise(found[style], 3, seed=7 + i), found[other])
        student = f"{style}-half-{other}"
        _hand_in(dest, student, half, ".py")
        who[student] = (style, f"half:{other}")
    return who


def _half(copied: str, own: str) -> str:
    """The first five exercises (and everything they need) from `copied`, the other five from `own`."""
    keep_first = sorted(EXERCISES)[:5]
    a, b = ast.parse(copied), ast.parse(own)
    top_a = [n for n in a.body if getattr(n, "name", None) not in EXERCISES or n.name in keep_first]
    top_b = [n for n in b.body if getattr(n, "name", None) in EXERCISES and n.name not in keep_first
             or not isinstance(n, (ast.FunctionDef, ast.ClassDef)) or n.name not in EXERCISES]
    return ast.unparse(ast.Module(top_a + top_b, []))


def _hand_in(dest: Path, student: str, text: str, suffix: str) -> None:
    folder = dest / student / "unit1"
    folder.mkdir(parents=True)
    (folder / f"work{suffix}").write_text(text, encoding="utf-8")


def auc(positives: list[float], negatives: list[float]) -> float:
    """ROC AUC: the chance a random positive outscores a random negative (ties count half)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def calibrate(keep: Path | None) -> None:
    course = load_course(ROOT)
    work = Path(tempfile.mkdtemp(prefix="grader-similarity-calibration-"))
    try:
        who = build_class(work / "submitted")
        started = time.monotonic()
        report, comparison = similarity_report(course, "unit1", Options(work / "submitted"))
        seconds = time.monotonic() - started
        if keep:
            write_report(report, comparison, keep)
        pairs = {(p["a"], p["b"]): p for p in report["pairs"]}
        copies, independent, half = [], [], []
        levels: dict[str, list[float]] = {}
        for a, b in combinations(sorted(who), 2):
            (sa, ka), (sb, kb) = who[a], who[b]
            p = pairs[(a, b)]
            shares = (p["a_share"], p["b_share"])
            if ka.startswith("half") or kb.startswith("half"):
                if ka.startswith("half") and kb.startswith("half"):
                    continue
                (hs, hk), other = ((sa, ka), sb) if ka.startswith("half") else ((sb, kb), sa)
                if other == hs:
                    half.append(p["score"])           # against the style half of it was copied from
                elif other != hk.split(":")[1]:
                    independent.append(shares)        # (the other half is that style's own code: left out)
                continue
            if sa == sb:
                copies.append(shares)
                if "own" in (ka, kb):
                    levels.setdefault(kb if ka == "own" else ka, []).append(p["score"])
            else:
                independent.append(shares)
        print(f"class: {len(who)} submissions from {len(styles())} independent styles; compared in {seconds:.2f} s")
        print(f"pairs: {len(copies)} copy pairs (same source), {len(independent)} independent pairs, "
              f"{len(half)} half-copy pairs")
        for name, pick in (("larger share (used)", max), ("mean of shares", lambda s: sum(s) / 2),
                           ("smaller share", min)):
            pos, neg = [pick(s) for s in copies], [pick(s) for s in independent]
            print(f"  {name:<20} ROC AUC {auc(pos, neg):.3f}; lowest copy {min(pos):.3f}, "
                  f"highest independent {max(neg):.3f}, median independent {sorted(neg)[len(neg) // 2]:.3f}")
        pos, neg = [max(s) for s in copies], [max(s) for s in independent]
        print("threshold  flagged  precision  recall (copies)  half copies flagged")
        for t in THRESHOLDS:
            tp, fp = sum(x >= t for x in pos), sum(x >= t for x in neg)
            prec = tp / (tp + fp) if tp + fp else float("nan")
            print(f"  {t:.1f}      {tp + fp:5d}    {prec:.3f}      {tp / len(pos):.3f}           "
                  f"{sum(x >= t for x in half)}/{len(half)}")
        print("lowest score of a copy against its source, by disguise:")
        for level, name in enumerate(LEVELS, start=1):
            print(f"  {level} {name:<26} {min(levels[f'copy{level}']):.3f}")
        print(f"half copies against their source: {', '.join(f'{x:.2f}' for x in sorted(half))}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def time_class200() -> None:
    """Time compare + pages on batch_throughput's class of 200 (mostly the same code) and on 200 distinct ones."""
    from batch_throughput import make_class

    course = load_course(ROOT)
    found = list(styles().values())
    for label in ("batch_throughput's class", "200 distinct disguised"):
        work = Path(tempfile.mkdtemp(prefix="grader-similarity-200-"))
        try:
            if label.startswith("batch"):
                make_class(work / "submitted", 200, loop=False)
            else:
                for i in range(200):
                    copy = disguise(found[i % len(found)], 1 + (i // len(found)) % len(LEVELS), seed=i)
                    _hand_in(work / "submitted", f"s{i:03d}", copy, ".py")
            started = time.monotonic()
            report, comparison = similarity_report(course, "unit1", Options(work / "submitted"))
            compared = time.monotonic() - started
            written = write_report(report, comparison, work / "out")
            total = time.monotonic() - started
            distinct = len({id(f) for f in comparison.prints.values()})
            print(f"{label}: {report['compared']} compared ({distinct} distinct texts), {report['pair_count']} pairs, "
                  f"{len(report['clusters'])} clusters; compare {compared:.1f} s, with {len(written)} files written "
                  f"{total:.1f} s")
        finally:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="also write the calibration class's pages here")
    parser.add_argument("--class200", action="store_true", help="also time the 200-student class")
    parser.add_argument("--plain", action="store_true",
                        help="for comparison: copydetect on the cells as written (its boilerplate removal only), "
                             "without our AST step")
    args = parser.parse_args(argv)
    if args.plain:
        import grader.similarity.source as source

        source.own_code = lambda text, starter, seen: text.strip()
    calibrate(args.keep)
    if args.class200:
        time_class200()
    return 0


if __name__ == "__main__":
    sys.exit(main())
