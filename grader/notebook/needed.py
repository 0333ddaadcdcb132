"""Which of a kernel's cells a check needs: static name analysis over the cells, no code run.

The notebook's `check()` sends the kernel's whole input history; running all of it again
would also rerun every training loop and plot. A cell is kept when it defines (binds,
assigns into, or calls a method of) a name that something kept uses, starting from the
names the checked exercises' drivers look up (`Exercise.entry`). Cells whose effect cannot
be seen from their names (`exec`, `from m import *`, `globals()`, a syntax error...) are
always kept, so a skip never changes a verdict that the names alone could not predict.
Check cells (`from grader import check`, `check(...)`) are dropped without a mention.
"""
from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass

from .magics import strip_magics

# calls and names whose effect on the namespace a static reading cannot follow
OPAQUE_CALLS = frozenset({"exec", "eval", "globals", "locals", "vars", "setattr", "delattr", "__import__",
                          "get_ipython", "compile"})
OPAQUE_NAMES = frozenset({"importlib", "builtins", "__builtins__", "sys", "runpy"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class CellNames:
    """What one cell binds and reads at the notebook's top level."""

    defines: frozenset[str]      # bound, assigned into, or changed by a method call
    uses: frozenset[str]         # top-level names the cell reads (in function bodies too), not locals
    imports: frozenset[str]      # names bound by an import (calling their methods changes nothing checked)
    method_targets: frozenset[str]  # names whose methods a top-level statement calls (may change them)
    opaque: bool = False         # may bind names no reading can see: always kept
    check_only: bool = False     # only `from grader import check` and `check(...)`: dropped silently


@dataclass(frozen=True)
class Selection:
    kept: list[int]      # indices into the cells, in order
    skipped: list[int]   # cells that define nothing checked
    checks: list[int]    # earlier check cells, dropped without a mention


def cell_names(source: str) -> CellNames:
    """Read one cell's names; a cell that does not parse is opaque."""
    code = strip_magics(source)
    try:
        tree = ast.parse(code)
        scopes = symtable.symtable(code, "<cell>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return CellNames(frozenset(), frozenset(), frozenset(), frozenset(), opaque=True)
    reader = _Reader()
    for statement in tree.body:
        reader.top(statement)
    loaded = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    opaque = reader.opaque or bool(loaded & OPAQUE_NAMES) or any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in OPAQUE_CALLS
        for node in ast.walk(tree))
    return CellNames(frozenset(reader.defines), frozenset(_global_reads(scopes)), frozenset(reader.imports),
                     frozenset(reader.methods), opaque=opaque, check_only=_is_check_cell(tree))


def select_cells(sources: list[str], entry: set[str]) -> Selection:
    """The cells that define what `entry` needs, transitively; the rest are skipped."""
    names = [cell_names(source) for source in sources]
    modules = set().union(*(n.imports for n in names)) if names else set()
    kept, checks = set(), set()
    needed = set(entry)
    for index, cell in enumerate(names):
        if cell.check_only:
            checks.add(index)
        elif cell.opaque:
            kept.add(index)
            needed |= cell.uses
    changed = True
    while changed:
        changed = False
        for index, cell in enumerate(names):
            if index in kept or index in checks:
                continue
            if (cell.defines | (cell.method_targets - modules)) & needed:
                kept.add(index)
                needed |= cell.uses
                changed = True
    skipped = [i for i in range(len(sources)) if i not in kept and i not in checks]
    return Selection(sorted(kept), skipped, sorted(checks))


class _Reader:
    """Collects the names a cell binds at its top level (not inside functions or classes)."""

    def __init__(self) -> None:
        self.defines: set[str] = set()
        self.imports: set[str] = set()
        self.methods: set[str] = set()
        self.opaque = False

    def top(self, statement: ast.stmt) -> None:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.defines.add(statement.name)
            self._globals_in(statement)
            return
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                if alias.name == "*":
                    self.opaque = True
                    continue
                bound = alias.asname or alias.name.split(".")[0]
                self.defines.add(bound)
                self.imports.add(bound)
            return
        for node in _walk_top(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.defines.add(node.id)
            elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
                base = _base_name(node)
                if base:
                    self.defines.add(base)   # W[0] = 1, model.bias = b: the cell changes W, model
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                base = _base_name(node.func)
                if base:
                    self.methods.add(base)   # model.load_state_dict(...), params.append(p)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                self.defines.add(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                self.defines.add(node.rest)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.defines.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.top(node)              # an import inside `if` or `try` at the top level
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defines.add(node.name)
                self._globals_in(node)

    def _globals_in(self, scope: ast.AST) -> None:
        """`global x` inside a function: calling it binds x at the top level."""
        for node in ast.walk(scope):
            if isinstance(node, ast.Global):
                self.defines.update(node.names)


def _walk_top(statement: ast.AST):  # noqa: ANN202
    """Every node of a top-level statement, not descending into functions, lambdas or classes."""
    todo = [statement]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                yield child           # its name is bound here; its body is another scope
            elif not isinstance(child, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                todo.append(child)
            else:
                todo.extend(n for n in ast.iter_child_nodes(child) if not isinstance(n, ast.comprehension))
                todo.extend(g.iter for g in child.generators)


def _global_reads(table: symtable.SymbolTable, top: bool = True) -> set[str]:
    """Names read from the notebook's namespace: at the top level, and as globals in every nested scope."""
    found = {s.get_name() for s in table.get_symbols() if s.is_referenced() and (top or s.is_global())}
    for child in table.get_children():
        found |= _global_reads(child, top=False)
    return found


def _base_name(node: ast.AST) -> str | None:
    """`model` of `model.fc.weight` or `params[0]`; None through a call (`f(x).sum()` changes no name)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_check_cell(tree: ast.Module) -> bool:
    """Only `from grader import check`, `check(...)`, `report = check(...)` (and a bare name to show it),
    or an nbgrader test cell of `grader export-nbgrader` (`report = None`, `report = report or check(...)`,
    `report.points() if report else 0.0`)."""
    if not tree.body:
        return False
    calls = 0
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module == "grader":
            continue
        if isinstance(statement, ast.Import) and all(a.name == "grader" for a in statement.names):
            continue
        value = statement.value if isinstance(statement, (ast.Expr, ast.Assign)) else None
        if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or):
            value = value.values[-1]
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "check":
            calls += 1
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Name):
            continue
        if isinstance(statement, ast.Assign) and isinstance(value, ast.Constant) and value.value is None:
            continue
        if isinstance(value, ast.IfExp) and isinstance(value.body, ast.Call) and \
                isinstance(value.body.func, ast.Attribute) and value.body.func.attr == "points":
            continue
        return False
    return calls > 0
