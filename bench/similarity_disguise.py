"""Disguised copies of a Unit 1 solution, the way a student hides copying, for calibrating `grader similarity`.

    from similarity_disguise import disguise
    disguise(source, level=4, seed=1)   # -> the same program, renamed, reordered, commented, rewritten

Levels add up: 1 renames every local variable and helper; 2 also reorders the
top-level definitions; 3 also adds comments and print calls; 4 also rewrites
loops as comprehensions or sum() and comprehensions as loops; 5 also swaps the
operands of every + and *. The exercise functions keep their names and
parameters (the checks call them by name). Everything stays valid Python.
"""
from __future__ import annotations

import ast
import random

EXERCISES = {"perceptron_forward", "delta_rule_update", "logistic_regression_step", "softmax", "softmax_cross_entropy",
             "multiclass_hinge_loss", "least_squares", "squared_hinge_loss", "Autoencoder", "reconstruction_scores"}
WORDS = ["val", "tmp", "res", "data", "thing", "arr", "out", "buf", "item", "acc", "part", "elem", "q", "u", "k"]
COMMENTS = ["compute the result", "TODO check this", "vectorised version", "see lecture 3", "this part was tricky",
            "matches the formula", "keep dtype", "works for batches"]
LEVELS = ("renamed", "reordered", "comments and prints", "loops and comprehensions", "commuted operands")


def disguise(source: str, level: int, seed: int) -> str:
    """`source` disguised up to `level` (1..5), reproducibly for a seed."""
    rng = random.Random(seed)
    tree = ast.parse(source)
    if level >= 1:
        _Rename(_bound_names(tree), rng).visit(tree)
    if level >= 4:
        tree = _Loops().visit(tree)
    if level >= 5:
        _Commute().visit(tree)
    if level >= 3:
        _add_prints(tree, rng)
    if level >= 2:
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        rest = [n for n in tree.body if n not in imports and n not in defs]
        rng.shuffle(defs)
        tree.body = imports + defs + rest   # module-level tables last: functions look them up when called
    ast.fix_missing_locations(tree)
    text = ast.unparse(tree)
    return _add_comments(text, rng) if level >= 3 else text


def _bound_names(tree: ast.Module) -> set[str]:
    """Names a student may rename freely: locals and helpers, not the exercises, their parameters or modules."""
    names: set[str] = set()
    protected = set(EXERCISES) | {"self", "super", "torch", "nn", "F", "math"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name not in EXERCISES and \
                not node.name.startswith("__"):
            names.add(node.name)
        elif isinstance(node, ast.FunctionDef) and node.name not in EXERCISES and not node.name.startswith("__"):
            names.update(a.arg for a in node.args.args)
    exercise_params = {a.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                       and node.name in EXERCISES | {"__init__", "forward"} for a in node.args.args}
    return names - protected - exercise_params


class _Rename(ast.NodeTransformer):
    def __init__(self, names: set[str], rng: random.Random) -> None:
        words = rng.sample(WORDS, len(WORDS))
        self.map = {n: f"{words[i % len(words)]}_{i}" for i, n in enumerate(sorted(names))}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.map.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.map.get(node.arg, node.arg)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.map.get(node.name, node.name)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.name = self.map.get(node.name, node.name)
        self.generic_visit(node)
        return node


class _Loops(ast.NodeTransformer):
    """`xs = []; for t in it: xs.append(e)` <-> `xs = [e for t in it]`; `acc = a; for t in it: acc = acc + e`
    -> `acc = a + sum(e for t in it)`."""

    def _rewrite(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        i = 0
        while i < len(body):
            stmt = body[i]
            nxt = body[i + 1] if i + 1 < len(body) else None
            merged = self._merge(stmt, nxt) if nxt is not None else None
            if merged is not None:
                out.append(merged)
                i += 2
                continue
            out.extend(self._unroll(stmt))
            i += 1
        return out

    def _merge(self, init: ast.stmt, loop: ast.stmt) -> ast.stmt | None:
        if not (isinstance(init, ast.Assign) and len(init.targets) == 1 and isinstance(init.targets[0], ast.Name)
                and isinstance(loop, ast.For) and len(loop.body) == 1 and not loop.orelse):
            return None
        name, inner = init.targets[0].id, loop.body[0]
        gen = ast.comprehension(target=loop.target, iter=loop.iter, ifs=[], is_async=0)
        if (isinstance(init.value, ast.List) and not init.value.elts and isinstance(inner, ast.Expr)
                and isinstance(inner.value, ast.Call) and isinstance(inner.value.func, ast.Attribute)
                and inner.value.func.attr == "append" and isinstance(inner.value.func.value, ast.Name)
                and inner.value.func.value.id == name and len(inner.value.args) == 1):
            return ast.Assign([ast.Name(name, ast.Store())], ast.ListComp(inner.value.args[0], [gen]))
        if (isinstance(inner, ast.Assign) and len(inner.targets) == 1 and isinstance(inner.targets[0], ast.Name)
                and inner.targets[0].id == name and isinstance(inner.value, ast.BinOp)
                and isinstance(inner.value.op, (ast.Add, ast.Sub)) and isinstance(inner.value.left, ast.Name)
                and inner.value.left.id == name):
            total = ast.Call(ast.Name("sum", ast.Load()), [ast.GeneratorExp(inner.value.right, [gen])], [])
            return ast.Assign([ast.Name(name, ast.Store())], ast.BinOp(init.value, inner.value.op, total))
        return None

    def _unroll(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`xs = [e for t in it]` (one generator, no condition) -> the loop."""
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.ListComp) and len(stmt.value.generators) == 1
                and not stmt.value.generators[0].ifs):
            name, comp = stmt.targets[0].id, stmt.value
            append = ast.Expr(ast.Call(ast.Attribute(ast.Name(name, ast.Load()), "append", ast.Load()),
                                       [comp.elt], []))
            return [ast.Assign([ast.Name(name, ast.Store())], ast.List([], ast.Load())),
                    ast.For(comp.generators[0].target, comp.generators[0].iter, [append], [])]
        return [stmt]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self._rewrite(value))
        return node


class _Commute(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.BinOp:
        self.generic_visit(node)
        if isinstance(node.op, (ast.Add, ast.Mult)) and not _is_text(node.left) and not _is_text(node.right):
            node.left, node.right = node.right, node.left
        return node


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _add_prints(tree: ast.Module, rng: random.Random) -> None:
    """A debugging print at the start of about half the functions."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.args.args and rng.random() < 0.6:
            arg = node.args.args[-1].arg
            call = ast.Call(ast.Name("print", ast.Load()), [ast.Constant(f"{node.name}:"), ast.Name(arg, ast.Load())], [])
            node.body.insert(0, ast.Expr(call))


def _add_comments(text: str, rng: random.Random) -> str:
    lines = []
    for line in text.splitlines():
        if line.strip() and rng.random() < 0.25:
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(f"{indent}# {rng.choice(COMMENTS)}")
        lines.append(line)
    return "\n".join(lines) + "\n"
