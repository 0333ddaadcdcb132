"""How often the grader's hints fire on realistic wrong code, and whether correct code stays unhinted.

Runs the collection in tests/hints (in-process, like tests/helpers.check_source)
and prints, per unit, the wrong variants that got a specific and correct hint,
then every miss. Usage: python bench/hint_rate.py [unit1 unit3 ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "hints")]


def main(argv: list[str]) -> int:
    import importlib

    from real_code import is_specific, outcome

    units = argv or [f"unit{i}" for i in range(1, 6)]
    total = specific = correct_bad = 0
    misses = []
    for unit in units:
        module = importlib.import_module(f"variants_{unit}")
        got = [is_specific(v) for v in module.WRONG]
        bad = [v for v in module.CORRECT if not (outcome(v).passed and not outcome(v).hints)]
        total, specific, correct_bad = total + len(got), specific + sum(got), correct_bad + len(bad)
        print(f"{unit}: specific hints on {sum(got)} of {len(got)} wrong variants; "
              f"{len(module.CORRECT) - len(bad)} of {len(module.CORRECT)} correct variants pass unhinted")
        misses += [v for v, ok in zip(module.WRONG, got) if not ok] + bad
    print(f"all: {specific} of {total} wrong variants ({specific / total:.1%}) got a specific, correct hint; "
          f"{correct_bad} correct variants failed or were hinted")
    for v in misses:
        o = outcome(v)
        print(f"  - {v.id}: expected {v.expected or 'no hint'}; passed={o.passed}; hints={list(o.hints)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
