"""Throughput of `grader grade`: a class of N submissions of one unit, graded with the sandbox on.

    python bench/batch_throughput.py [--unit unit1] [--n 200] [--workers 0] [--no-loop] [--keep DIR]

Generates N submissions (mostly correct, some with catalogued mistakes, a few broken or
hostile), grades them with `grader grade` in a fresh process (end to end: interpreter start,
the trusted side's torch import, zygote start, grading, gradebook, CSV), and in the same run
times a fresh `python -c "import torch"`. Prints submissions per second and the cost of one
submission as a multiple of that import (target: at most 0.1x for Unit 1, 0.3x for Unit 3).

Unit 1's class comes from examples/make_examples.py (its hostile students included). Any
other unit's class is built from `solutions/<unit>/*.py`: a correct student hands in the
references' definitions, a buggy one has one definition swapped for a catalogued mistake
of `solutions/<unit>/mistakes.py` (those the unit's checks name with `replace`, cycling
through them), and a few hand in the untouched starter notebook. Students hand in
notebooks, every fifth correct one a .py file.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from make_examples import notebook_json, variant_cells, write_notebook  # noqa: E402

BUGGY = ["softmax_no_max", "softmax_first_axis", "hinge_includes_correct", "perceptron_no_activation",
         "delta_rule_sign", "ce_no_max", "logistic_ascent", "blank", "runtime_error", "syntax_error"]
HOSTILE = ["monkeypatch_torch", "fake_passed", "os_exit", "read_solutions", "lying_tensor"]
LOOP = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"
TARGETS = {"unit1": 0.1, "unit3": 0.3}


def make_class(dest: Path, n: int, loop: bool) -> dict[str, int]:
    """Unit 1: write n students: every 10th buggy, every 40th hostile (one of them looping), the rest correct."""
    kinds = {"correct": 0, "buggy": 0, "hostile": 0}
    for i in range(n):
        student = f"s{i:04d}"
        if i % 40 == 7:
            variant = HOSTILE[(i // 40) % len(HOSTILE)]
            cells = variant_cells(variant)
            if loop and i == 7:
                cells = cells + [LOOP]
            kinds["hostile"] += 1
        elif i % 10 == 3:
            cells = variant_cells(BUGGY[(i // 10) % len(BUGGY)])
            kinds["buggy"] += 1
        else:
            cells = variant_cells("correct")
            kinds["correct"] += 1
        write_notebook(dest / student / "unit1" / "unit1.ipynb", cells)
    return kinds


# Any unit: students built from the references and the catalogued mistakes -----------------
def _parts(path: Path) -> tuple[list[str], dict[str, str]]:
    """A file's plain imports (relative ones dropped) and its top-level definitions, name -> source."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    imports, defs = [], {}
    for node in ast.parse(text).body:
        source = "".join(lines[node.lineno - 1:node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                imports.append(source)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defs[node.name] = source
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        defs[name.id] = source
    return imports, defs


def _names_used(source: str) -> set[str]:
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}


def _rename(source: str, old: str, new: str) -> str:
    return re.sub(rf"\b{re.escape(old)}\b", new, source)


class UnitClass:
    """The building blocks of one unit's class: reference cells and catalogued mistakes."""

    def __init__(self, unit: str) -> None:
        from grader.config import load_course
        from grader.spec.loader import load_unit_spec

        self.unit = unit
        folder = ROOT / "solutions" / unit
        imports: list[str] = []
        self.defs: dict[str, str] = {}
        for path in sorted(folder.glob("*.py")):
            if path.name in ("checks.py", "mistakes.py") or path.name.startswith("_"):
                continue
            file_imports, defs = _parts(path)
            imports += [i for i in file_imports if i not in imports]
            self.defs.update(defs)
        wrong_imports, self.wrong_defs = _parts(folder / "mistakes.py")
        self.imports = "".join(imports + [i for i in wrong_imports if i not in imports])
        course = load_course(ROOT)
        spec = load_unit_spec(course, course.unit(unit))
        per_exercise, named = [], set()
        for exercise in spec.exercises.values():
            swaps = []   # each: target name -> name of its wrong version
            for mistake in exercise.mistakes:
                names = {target: getattr(fn, "__name__", "") for target, fn in mistake.replace.items()}
                if names and all(n in self.wrong_defs and t in self.defs for t, n in names.items()):
                    swaps.append(names)
                    named.update(names.values())
            # a mistake the checks recognise by its pattern (Mistake.when) names no function:
            # take those of mistakes.py named after an entry point, e.g. train_digits_never_adversarial
            for entry in exercise.entry:
                swaps += [{entry: name} for name, source in self.wrong_defs.items()
                          if name.startswith(f"{entry}_") and name not in named and source.startswith(("def", "class"))]
            per_exercise.append(swaps)
        # round robin over the exercises, so that a few buggy students already cover several of them
        self.mistakes = [swaps[k] for k in range(max(map(len, per_exercise), default=0))
                         for swaps in per_exercise if k < len(swaps)]
        self.starter = next((ROOT / "exercises" / unit).glob("*.ipynb"))

    def cells(self, swap: dict[str, str] | None = None) -> list[str]:
        """The imports, then every reference definition (those in `swap` replaced by their mistake)."""
        swap = swap or {}
        helpers: list[str] = []
        defs: list[str] = []
        for name, source in self.defs.items():
            if name not in swap:
                defs.append(source)
                continue
            wrong = self.wrong_defs[swap[name]]
            needed = self._helpers(swap[name])
            for helper in (n for n in self.wrong_defs if n in needed):   # in the file's order
                if self.wrong_defs[helper] not in helpers:
                    helpers.append(self.wrong_defs[helper])
            if name in _names_used(wrong):   # the mistake builds on the reference: keep it, renamed
                defs.append(_rename(source, name, f"_reference_{name}"))
                wrong = _rename(wrong, name, f"_reference_{name}")
            defs.append(_rename(wrong, swap[name], name))
        return [self.imports, *helpers, *defs]

    def _helpers(self, name: str) -> set[str]:
        """Definitions of mistakes.py that `name` needs, transitively (not the references')."""
        found: set[str] = set()
        todo = [name]
        while todo:
            for used in _names_used(self.wrong_defs[todo.pop()]):
                if used in self.wrong_defs and used != name and used not in found and used not in self.defs:
                    found.add(used)
                    todo.append(used)
        return found

    def write(self, dest: Path, n: int) -> dict[str, int]:
        """n students in dest/<student>/<unit>/: every 10th buggy, every 40th the untouched starter, the rest correct."""
        kinds = {"correct": 0, "buggy": 0, "starter": 0}
        for i in range(n):
            folder = dest / f"s{i:04d}" / self.unit
            folder.mkdir(parents=True)
            if i % 40 == 7:
                shutil.copy(self.starter, folder / self.starter.name)
                kinds["starter"] += 1
                continue
            buggy = i % 10 == 3 and self.mistakes
            cells = self.cells(self.mistakes[(i // 10) % len(self.mistakes)] if buggy else None)
            kinds["buggy" if buggy else "correct"] += 1
            if not buggy and i % 5 == 1:
                (folder / "answers.py").write_text("\n\n".join(cells), encoding="utf-8")
            else:
                (folder / f"{self.unit}.ipynb").write_text(notebook_json(cells), encoding="utf-8")
        return kinds


def time_torch_import(reps: int = 3) -> list[float]:
    """Wall seconds of a fresh `python -c "import torch"`, reps times."""
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", default="unit1")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--no-loop", action="store_true", help="Unit 1: leave out the student whose cell loops forever")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args(argv)
    from grader.config import load_course

    unit = load_course(ROOT).unit(args.unit)
    full = sum(e.points for e in unit.exercises)
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-bench-"))
    sub, gradebook = work / "submitted", work / "gradebook.db"
    if args.unit == "unit1":
        kinds = make_class(sub, args.n, not args.no_loop)
        looping = ", one looping forever" if not args.no_loop else ""
    else:
        kinds = UnitClass(args.unit).write(sub, args.n)
        looping = ""
    if gradebook.exists():
        gradebook.unlink()
    imports = time_torch_import()
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "grade", args.unit,
                           "--submissions", str(sub), "--gradebook", str(gradebook), "--csv", str(work / "grades.csv"),
                           "--workers", str(args.workers), "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    data = json.loads(proc.stdout)
    totals = [s["total"] for s in data["students"].values()]
    sandbox = proc.stderr.splitlines()[0]
    batch_line = next(line for line in proc.stderr.splitlines() if line.startswith(f"{args.unit}:"))
    in_batch = float(batch_line.rsplit("(", 1)[1].split(" s)")[0])
    torch_s = statistics.median(imports)
    per_sub = wall / args.n
    target = TARGETS.get(args.unit)
    print(sandbox)
    print(f"{args.unit} class: {args.n} submissions ("
          + ", ".join(f"{count} {kind}" for kind, count in kinds.items()) + f"{looping}); "
          f"{sum(t == full for t in totals)} scored {full:g}/{full:g}; cores: {os.cpu_count()}")
    print(f"fresh `python -c 'import torch'`: median {torch_s:.2f} s (runs: {', '.join(f'{t:.2f}' for t in imports)})")
    print(f"grader grade, end to end: {wall:.1f} s -> {args.n / wall:.1f} submissions/s, "
          f"{per_sub:.3f} s per submission = {per_sub / torch_s:.3f}x a fresh torch import")
    print(f"inside the batch (after start-up): {in_batch:.1f} s -> {args.n / in_batch:.1f} submissions/s, "
          f"{in_batch / args.n:.3f} s per submission = {in_batch / args.n / torch_s:.3f}x")
    if target is not None:
        print(f"target <= {target}x: {'met' if per_sub / torch_s <= target else 'NOT met'}")
    if not args.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
