"""Parse a submission's cells and index what each top-level statement binds and uses.

The cells of a notebook share one namespace, and so do the submission's .py
files (the worker runs them as cells too, and also lets a notebook import
them), so the index is one global table over every cell. A *unit* is one
top-level statement, or the header of a compound one (`for x in ...:`) whose
body statements are units of their own. Names are resolved with Python's
scoping rules: parameters and locals of a function are not globals, class
bodies are not seen from their methods.
"""
from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

MAX_CELL_CHARS = 300_000
MAX_TOTAL_CHARS = 2_000_000
MAX_NODES = 600_000
# values that make a global a mutable object other code may fill in: ops = [], table = {}, reg = Registry()
CONTAINERS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp, ast.Call)


@dataclass(eq=False)
class Scope:
    """A module, function (or lambda), class or comprehension scope."""

    kind: str
    parent: Scope | None = None
    node: ast.AST | None = None  # the def, lambda or class
    locals: set[str] = field(default_factory=set)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    aliases: dict[str, list[tuple]] = field(default_factory=dict)  # local name -> bindings (see Table)

    def owner(self, name: str) -> Scope | None:
        """The function or class scope where `name` is local, or None when it is a global."""
        scope: Scope | None = self
        first = True
        while scope is not None and scope.kind != "module":
            if scope.kind == "class" and not first:
                scope, first = scope.parent, False
                continue
            if name in scope.declared_global:
                return None
            if name in scope.locals or name in scope.declared_nonlocal:
                return scope
            scope, first = scope.parent, False
        return None


@dataclass(eq=False)
class Unit:
    """One top-level statement (or a compound statement's header) of one cell."""

    cell: int
    line: int
    roots: list[ast.AST]
    nodes: list[tuple[ast.AST, Scope, bool]] = field(default_factory=list)  # node, scope, inside a function body
    binds: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)
    load_uses: set[str] = field(default_factory=set)  # uses that run when the cell runs, not later
    # filled in by scan.py
    refs: list[tuple[int, frozenset[str], str | None]] = field(default_factory=list)
    methods: list[tuple[int, str, bool]] = field(default_factory=list)  # line, name, may be the student's own
    literals: list[tuple[int, str]] = field(default_factory=list)
    escapes: list[tuple[int, Any, bool]] = field(default_factory=list)
    defined_methods: set[str] = field(default_factory=set)


@dataclass
class Table:
    """The global namespace: what each global name may be bound to.

    A binding is ("q", dotted name) for an import, ("expr", node, scope, cell)
    for an assignment, or ("global", name) for a name imported from the
    submission's own modules.
    """

    bindings: dict[str, list[tuple]] = field(default_factory=dict)
    positions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # (cell, line) of every binding
    imported: set[str] = field(default_factory=set)  # names bound by an import somewhere
    student: set[str] = field(default_factory=set)  # names bound by anything but an import
    stars: list[tuple[str, int, int]] = field(default_factory=list)  # (module, cell, line) of `from m import *`
    modules: set[str] = field(default_factory=set)  # the submission's importable .py modules
    containers: set[str] = field(default_factory=set)  # globals assigned a list, dict, object...: mutable

    def bind(self, name: str, binding: tuple | None, cell: int, line: int, *, imported: bool = False) -> None:
        """Record that `name` is bound here (to `binding`, when it is a simple alias)."""
        if binding is not None:
            self.bindings.setdefault(name, []).append(binding)
        self.positions.setdefault(name, []).append((cell, line))
        (self.imported if imported else self.student).add(name)

    def star_applies(self, name: str) -> bool:
        """Whether a `from m import *` may have bound `name` last."""
        if not self.stars:
            return False
        bound = self.positions.get(name)
        return not bound or max((c, ln) for _, c, ln in self.stars) > max(bound)


@dataclass(frozen=True)
class Unreadable:
    """A cell the scan could not read, with the reason in the student's words."""

    origin: str
    label: str


@dataclass
class Program:
    """The student's code, parsed and indexed once, checked once per exercise."""

    origins: list[str]
    units: list[Unit]
    table: Table
    unreadable: list[Unreadable] = field(default_factory=list)
    binders: dict[str, list[Unit]] = field(default_factory=dict)
    load_reachable: set[int] = field(default_factory=set)  # ids of units that can run when the cells run


def parse_cells(cells: Sequence[Any]) -> Program:
    """Parse every cell (objects with .source and .origin) and index its units; no resolution yet."""
    table = Table(modules={c.origin[:-3] for c in cells
                           if c.origin.endswith(".py") and "/" not in c.origin and c.origin[:-3].isidentifier()})
    program = Program([c.origin for c in cells], [], table)
    module = Scope("module")
    total = nodes = 0
    for index, cell in enumerate(cells):
        size = len(cell.source)
        total += size
        if size > MAX_CELL_CHARS or total > MAX_TOTAL_CHARS:
            program.unreadable.append(Unreadable(cell.origin, f"has a cell of {size:,} characters, too large to check"))
            continue
        try:
            tree = _parse(cell.source)
            if tree is None:
                continue  # a syntax error: the worker cannot run it either
            units = _flatten(tree.body, index)
            for unit in units:
                _walk(unit, table, module)
                nodes += len(unit.nodes)
            if nodes > MAX_NODES:
                raise MemoryError
        except (RecursionError, MemoryError):
            program.unreadable.append(Unreadable(cell.origin, "has a cell too large or too deeply nested to check"))
            continue
        program.units.extend(units)
    return program


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    with warnings.catch_warnings():  # warnings turned into errors must not hide a cell the worker runs
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError):
            return None


def _flatten(body: list[ast.stmt], cell: int) -> list[Unit]:
    """Top-level statements as units; a compound statement's header is a unit, its body more units."""
    units: list[Unit] = []
    for stmt in body:
        header: list[ast.AST] = []
        blocks: list[list[ast.stmt]] = []
        if isinstance(stmt, (ast.If, ast.While)):
            header, blocks = [stmt.test], [stmt.body, stmt.orelse]
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            header, blocks = [stmt.target, stmt.iter], [stmt.body, stmt.orelse]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            header = [part for item in stmt.items for part in (item.context_expr, item.optional_vars) if part]
            blocks = [stmt.body]
        elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            header = [h.type for h in stmt.handlers if h.type]
            header += [ast.Name(h.name, ast.Store(), lineno=h.lineno, col_offset=0) for h in stmt.handlers if h.name]
            blocks = [stmt.body, *[h.body for h in stmt.handlers], stmt.orelse, stmt.finalbody]
        elif isinstance(stmt, ast.Match):
            header = [stmt.subject, *[c.pattern for c in stmt.cases], *[c.guard for c in stmt.cases if c.guard]]
            blocks = [c.body for c in stmt.cases]
        else:
            units.append(Unit(cell, stmt.lineno, [stmt]))
            continue
        if header:
            units.append(Unit(cell, stmt.lineno, header))
        for block in blocks:
            units.extend(_flatten(block, cell))
    return units


def _walk(unit: Unit, table: Table, module: Scope) -> None:
    """Record every node of a unit with its scope; collect the module-level bindings into the table."""
    stack: list[tuple[ast.AST, Scope, bool]] = [(root, module, False) for root in reversed(unit.roots)]
    while stack:
        node, scope, in_body = stack.pop()
        unit.nodes.append((node, scope, in_body))
        children = _children(node, scope, in_body, unit, table)
        stack.extend(reversed(children))



def _children(node: ast.AST, scope: Scope, in_body: bool, unit: Unit,
              table: Table) -> list[tuple[ast.AST, Scope, bool]]:
    """The node's children, each with the scope it is evaluated in; records bindings on the way."""
    line = getattr(node, "lineno", unit.line)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        inner = Scope("function", scope, node)
        outer: list[ast.AST] = [*node.args.defaults, *[d for d in node.args.kw_defaults if d]]
        if not isinstance(node, ast.Lambda):
            _store(node.name, scope, unit, table, line, ("def",))
            outer += [*node.decorator_list, *[a.annotation for a in _args(node.args) if a.annotation]]
            outer += [node.returns] if node.returns else []
            body: list[ast.AST] = list(node.body)
        else:
            body = [node.body]
        inner.locals.update(a.arg for a in _args(node.args))
        return [(n, scope, in_body) for n in outer] + [(n, inner, True) for n in body]
    if isinstance(node, ast.ClassDef):
        inner = Scope("class", scope, node)
        _store(node.name, scope, unit, table, line, ("def",))
        outer = [*node.decorator_list, *node.bases, *node.keywords]
        return [(n, scope, in_body) for n in outer] + [(n, inner, in_body) for n in node.body]
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        inner = Scope("comprehension", scope)
        first, *rest = node.generators
        parts: list[ast.AST] = [first.target, *first.ifs, *[p for g in rest for p in (g.target, g.iter, *g.ifs)]]
        parts += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return [(first.iter, scope, in_body)] + [(n, inner, in_body) for n in parts]
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        _store(node.id, scope, unit, table, line, None)
    elif isinstance(node, ast.Global):
        scope.declared_global.update(node.names)
    elif isinstance(node, ast.Nonlocal):
        scope.declared_nonlocal.update(node.names)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        _imports(node, scope, unit, table, line)
    elif isinstance(node, ast.ExceptHandler) and node.name:
        _store(node.name, scope, unit, table, line, None)
    elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        _store(node.name, scope, unit, table, line, None)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        _store(node.rest, scope, unit, table, line, None)
    elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                _alias(target.id, ("expr", node.value, scope, unit.cell), scope, table)
                if isinstance(node.value, CONTAINERS) and (scope.kind == "module"
                                                           or target.id in _function_globals(scope)):
                    table.containers.add(target.id)
    return [(child, scope, in_body) for child in ast.iter_child_nodes(node)]


def _args(args: ast.arguments) -> Iterator[ast.arg]:
    yield from args.posonlyargs
    yield from args.args
    if args.vararg:
        yield args.vararg
    yield from args.kwonlyargs
    if args.kwarg:
        yield args.kwarg


def _imports(node: ast.Import | ast.ImportFrom, scope: Scope, unit: Unit, table: Table, line: int) -> None:
    for alias in node.names:
        if isinstance(node, ast.Import):
            bound = alias.asname or alias.name.partition(".")[0]
            target = alias.name if alias.asname else bound
            binding: tuple = ("q", "@" + target if target in table.modules else target)
        elif node.level:  # a relative import: a notebook has no package
            bound, binding = alias.asname or alias.name, ("q", "@relative")
        elif alias.name == "*":
            if scope.kind == "module":
                table.stars.append((node.module or "", unit.cell, line))
            continue
        else:
            bound = alias.asname or alias.name
            module = node.module or ""
            binding = ("global", alias.name) if module in table.modules else ("q", f"{module}.{alias.name}")
        _store(bound, scope, unit, table, line, binding, imported=True)


def _store(name: str, scope: Scope, unit: Unit, table: Table, line: int, binding: tuple | None,
           *, imported: bool = False) -> None:
    """A binding of `name` in `scope` (a global one at module level or under `global`)."""
    if binding is not None and binding[0] in ("q", "global"):
        _alias(name, binding, scope, table)
    if scope.kind == "module" or name in _function_globals(scope):
        table.bind(name, None, unit.cell, line, imported=imported)
        unit.binds.add(name)
    else:
        scope.locals.add(name)


def _alias(name: str, binding: tuple, scope: Scope, table: Table) -> None:
    if scope.kind == "module" or name in _function_globals(scope):
        table.bindings.setdefault(name, []).append(binding)
    else:
        scope.aliases.setdefault(name, []).append(binding)


def _function_globals(scope: Scope) -> set[str]:
    # a comprehension's or class's names follow the enclosing function's `global` declarations
    while scope.kind in ("comprehension",) and scope.parent is not None:
        scope = scope.parent
    return scope.declared_global


def link(program: Program) -> None:
    """Find what each unit uses and binds once every cell is indexed; then who binds what."""
    table = program.table
    for unit in program.units:
        for node, scope, in_body in unit.nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and scope.owner(node.id) is None:
                unit.uses.add(node.id)
                if not in_body:
                    unit.load_uses.add(node.id)
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and scope.owner(node.value.id) is None \
                        and _is_module(table, node.value.id):  # helpers.f: the global f of helpers.py
                    unit.uses.add(node.attr)
                    if isinstance(node.ctx, (ast.Store, ast.Del)):
                        unit.binds.add(node.attr)
                if isinstance(node.ctx, (ast.Store, ast.Del)):
                    _mutates(unit, node.value, scope, table)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
                _mutates(unit, node.value, scope, table)
            elif isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute):  # table.append(f), cfg.update(...)
                    _mutates(unit, node.func.value, scope, table)
                elif isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") and node.args:
                    _mutates(unit, node.args[0], scope, table)
                for arg in [*node.args, *[k.value for k in node.keywords]]:  # register(table, f)
                    if isinstance(arg, ast.Name) and arg.id in table.containers:
                        _mutates(unit, arg, scope, table)
    program.binders = {}
    for unit in program.units:
        for name in unit.binds:
            program.binders.setdefault(name, []).append(unit)
    roots = {name for unit in program.units for name in unit.load_uses}
    program.load_reachable = {id(u) for u in closure(program, roots)[0]}


def closure(program: Program, names: set[str] | Sequence[str]) -> tuple[list[Unit], set[str]]:
    """The units that bind these names, and everything they use in turn; also every name pulled in."""
    seen = set(names)
    queue = list(seen)
    reached: dict[int, Unit] = {}
    while queue:
        name = queue.pop()
        for unit in program.binders.get(name, ()):
            if id(unit) in reached:
                continue
            reached[id(unit)] = unit
            for used in unit.uses:
                if used not in seen:
                    seen.add(used)
                    queue.append(used)
    return list(reached.values()), seen


def _mutates(unit: Unit, target: ast.AST, scope: Scope, table: Table) -> None:
    """`x.a = v`, `x[k] = v`, `x.append(v)`: the statement may change the student's global x."""
    while isinstance(target, (ast.Attribute, ast.Subscript)):
        target = target.value
    if isinstance(target, ast.Name) and scope.owner(target.id) is None and target.id in table.student:
        unit.binds.add(target.id)


def _is_module(table: Table, name: str) -> bool:
    return any(b[0] == "q" and b[1].startswith("@") for b in table.bindings.get(name, ()))
