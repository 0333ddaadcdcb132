"""Resolve what the student's code refers to, and find shortcuts and constructs the scan cannot follow.

`analyse` runs once per student: it resolves every name, attribute chain and
call of every unit and keeps what could matter (dotted names, Tensor method
names on receivers it cannot resolve, identifier-like strings, routes).
`find_shortcuts` then runs once per exercise: it keeps what the exercise's
entry names reach and what its forbidden families match.
"""
from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from typing import Any, Sequence

from . import routes
from .families import Family, families
from .program import Program, Scope, Table, Unit, Unreadable, closure, link, parse_cells

MAX_DEPTH = 24  # alias chains followed
MAX_CANDIDATES = 32  # dotted names one expression may stand for
MAX_STEPS = 400_000  # resolutions per submission; beyond, the code is too tangled to check
MAX_FINDINGS = 500  # per exercise, in source order; the message names three
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*((\.|::)[A-Za-z_][A-Za-z0-9_]*)*")
TENSOR = "torch.Tensor()"  # an instance of torch.Tensor, as inferred from a torch call
BUILTIN_NAMES = frozenset(dir(builtins))
TIMEIT = {"timeit.timeit", "timeit.repeat", "timeit.Timer"}
PARTIAL = {"functools.partial", "functools.partialmethod", "functools.wraps", "functools.lru_cache",
           "functools.cache", "functools.update_wrapper", "staticmethod", "classmethod"}


class TooComplex(Exception):
    """The submission's aliases are too tangled to resolve within the budget."""


@dataclass(frozen=True)
class Finding:
    """One forbidden name, or one construct the scan cannot follow, at one place in the student's code."""

    kind: str  # "forbidden" or "unfollowable"
    label: str  # "`torch.softmax`" (forbidden), or "uses `exec`" (unfollowable)
    origin: str  # "losses.ipynb, cell 4"
    line: int  # 1-based within the cell; 0 when the whole cell is meant
    reason: str = ""  # why an unfollowable construct is refused
    family: str = ""

    @property
    def where(self) -> str:
        """'losses.ipynb, cell 4, line 3'."""
        return f"{self.origin}, line {self.line}" if self.line else self.origin


def analyse(cells: Sequence[Any]) -> Program:
    """Parse, index and resolve a submission's cells (objects with .source and .origin)."""
    try:
        return _analyse(cells)
    except Exception as exc:  # noqa: BLE001  (a bug here must neither pass a student nor stop a batch)
        program = Program([c.origin for c in cells], [], Table())
        program.unreadable.append(Unreadable("your code", f"could not be checked ({type(exc).__name__})"))
        return program


def _analyse(cells: Sequence[Any]) -> Program:
    program = parse_cells(cells)
    link(program)
    resolver = Resolver(program)
    for unit in program.units:
        for node, scope, _ in unit.nodes:
            if isinstance(node, ast.ClassDef) and scope.kind == "module":
                resolver.classes.setdefault(node.name, []).append((node, scope))
    for unit in program.units:
        try:
            _collect(unit, resolver)
        except (RecursionError, MemoryError):
            program.unreadable.append(Unreadable(program.origins[unit.cell], "has code too deeply nested to check"))
        except TooComplex:
            program.unreadable.append(Unreadable(program.origins[unit.cell], "has aliases too tangled to check"))
            break
    return program


def find_shortcuts(program: Program, entry: Sequence[str], forbidden: Sequence[str]) -> list[Finding]:
    """Everything that makes an exercise with these entry names and forbidden families fail, in source order."""
    chosen = families(forbidden)
    if not chosen:
        return []
    reached, names = closure(program, set(entry))
    reached_ids = {id(u) for u in reached}
    live = reached_ids | program.load_reachable
    found: list[tuple[tuple[int, int], Finding]] = []
    for bad in program.unreadable:
        found.append(((-1, 0), Finding("unfollowable", bad.label, bad.origin, 0, routes.UNREADABLE)))
    for unit in program.units:
        origin = program.origins[unit.cell]
        for line, route, in_body in unit.escapes:
            if (route.anywhere and (id(unit) in live or not in_body)) or id(unit) in reached_ids:
                found.append(((unit.cell, line), Finding("unfollowable", route.label, origin, line, route.reason)))
    own = {m for unit in reached for m in unit.defined_methods}  # Value.backward is the student's own
    for unit in reached:
        found += [((unit.cell, f.line), f) for f in _forbidden_in(unit, program, chosen, names, own)]
    found += _star_bound(program, entry, chosen)
    return _dedupe([f for _, f in sorted(found, key=lambda pair: pair[0])[:MAX_FINDINGS]])


def _forbidden_in(unit: Unit, program: Program, chosen: list[Family], names: set[str],
                  own: set[str]) -> list[Finding]:
    origin = program.origins[unit.cell]
    out = []
    for line, candidates, binds in unit.refs:
        if binds is not None and binds not in names:
            continue  # `import torch.optim as optim` where nothing reached uses optim
        for candidate in sorted(candidates):
            name = candidate.replace("()", "")
            family = next((f for f in chosen if f.matches(name)), None)
            if family is not None:
                out.append(Finding("forbidden", f"`{name}`", origin, line, family=family.name))
    for line, attr, ownable in unit.methods:
        family = next((f for f in chosen if attr in f.methods), None)
        if family is not None and not (ownable and attr in own):
            out.append(Finding("forbidden", f"`torch.Tensor.{attr}`", origin, line, family=family.name))
    named = {f.line for f in out}
    for line, text in unit.literals:
        if line in named:
            continue  # getattr(torch, "softmax") is already named
        parts = [p for p in re.split(r"::|\.", text) if p not in own]
        family = next((f for f in chosen if any(_spells(f, p, program) for p in parts)), None)
        if family is not None:
            out.append(Finding("forbidden", f"the name '{text}' in a string", origin, line, family=family.name))
    return out


def _spells(family: Family, word: str, program: Program) -> bool:
    """Whether a word in a string names the family: a Tensor method, or a torch name the student did not
    define themselves ("clip_grad_norm" in `raise NotImplementedError("clip_grad_norm")` is theirs)."""
    if word in family.methods:
        return True
    if word in program.table.student:
        return False
    return family.matches_identifier(word) or any(m.rsplit(".", 1)[-1] == word for m in family.members)


def _star_bound(program: Program, entry: Sequence[str], chosen: list[Family]) -> list:
    """`from torch.nn.functional import *` after `def softmax`: the star import rebinds the entry name."""
    out = []
    for name in entry:
        if not program.table.star_applies(name):
            continue
        for module, cell, line in program.table.stars:
            family = next((f for f in chosen if f.matches(f"{module}.{name}")), None)
            if family is not None:
                out.append(((cell, line), Finding("forbidden", f"`{module}.{name}`", program.origins[cell], line,
                                                  family=family.name)))
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per name (its first place); `torch.optim` is dropped beside `torch.optim.Adam` on its line."""
    lines: dict[tuple[str, int, str], list[str]] = {}
    for f in findings:
        lines.setdefault((f.origin, f.line, f.kind), []).append(f.label.strip("`"))
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        name = f.label.strip("`")
        longer = any(other.startswith(name + ".") for other in lines[(f.origin, f.line, f.kind)])
        if longer or (f.kind, f.label) in seen:
            continue
        seen.add((f.kind, f.label))
        out.append(f)
    return out


class Resolver:
    """What an expression may stand for, as dotted names: 'torch.nn.functional.softmax', 'builtins.exec'."""

    def __init__(self, program: Program) -> None:
        self.table = program.table
        self.memo: dict[Any, frozenset[str]] = {}
        self.busy: set[Any] = set()
        self.cut = False  # a result depended on an alias chain cut short: do not remember it
        self.steps = 0
        self.cell = 0  # the cell of the node being resolved
        self.classes: dict[str, list[tuple[ast.ClassDef, Scope]]] = {}
        self.purity: dict[int, bool] = {}

    def resolve(self, node: ast.AST, scope: Scope, depth: int = 0) -> frozenset[str]:
        """The dotted names `node` (evaluated in `scope`) may stand for; empty when unknown."""
        return self._remember(id(node), depth, lambda: self._resolve(node, scope, depth))

    def _remember(self, key: Any, depth: int, compute: Any) -> frozenset[str]:
        if key in self.memo:
            return self.memo[key]
        if depth > MAX_DEPTH or key in self.busy:
            self.cut = True
            return frozenset()
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TooComplex
        self.busy.add(key)
        outer, self.cut = self.cut, False
        try:
            result = frozenset(sorted(compute())[:MAX_CANDIDATES])
        finally:
            self.busy.discard(key)
        if not self.cut:
            self.memo[key] = result
        self.cut = self.cut or outer
        return result

    def _resolve(self, node: ast.AST, scope: Scope, depth: int) -> set[str]:
        if isinstance(node, ast.Name):
            owner = scope.owner(node.id)
            if owner is not None:
                return self._bindings(owner.aliases.get(node.id, ()), depth)
            out = set(self.global_value(node.id, depth))
            bound = self.table.positions.get(node.id)
            if node.id in BUILTIN_NAMES and bound and (self.cell, node.lineno) < min(bound):
                out.add(f"builtins.{node.id}")  # `lookup = getattr` before the student rebinds getattr
            return out
        if isinstance(node, ast.Attribute):
            return self._attribute(self.resolve(node.value, scope, depth + 1), node.attr, depth)
        if isinstance(node, ast.Call):
            return self._call(node, scope, depth)
        if isinstance(node, ast.IfExp):
            return set(self.resolve(node.body, scope, depth + 1)) | self.resolve(node.orelse, scope, depth + 1)
        if isinstance(node, ast.BoolOp):
            return {q for v in node.values for q in self.resolve(v, scope, depth + 1)}
        if isinstance(node, ast.NamedExpr):
            return set(self.resolve(node.value, scope, depth + 1))
        return set()

    def _attribute(self, base: frozenset[str], attr: str, depth: int) -> set[str]:
        out: set[str] = set()
        for q in base:
            if q.startswith("@") and "." not in q:  # an attribute of the submission's own module
                out |= self.global_value(attr, depth + 1)
            else:
                out.add(f"{q}.{attr}")
        return out

    def _call(self, node: ast.Call, scope: Scope, depth: int) -> set[str]:
        func = self.resolve(node.func, scope, depth + 1)
        out: set[str] = set()
        if "builtins.getattr" in func and len(node.args) >= 2 and _text(node.args[1]) is not None:
            out |= self._attribute(self.resolve(node.args[0], scope, depth + 1), _text(node.args[1]), depth)
        if func & PARTIAL and node.args:
            out |= self.resolve(node.args[0], scope, depth + 1)
        for q in func:  # torch.zeros(...) and z.clone() give tensors
            last = q.rsplit(".", 1)[-1]
            if (q.startswith("torch.") and last[:1].islower() and not q.startswith("torch.Tensor.")) \
                    or q.startswith(TENSOR + "."):
                out.add(TENSOR)
        return out

    def global_value(self, name: str, depth: int = 0) -> frozenset[str]:
        """What a global name may be bound to: imports, aliases, star imports, or a builtin."""
        return self._remember(("global", name), depth, lambda: self._global(name, depth))

    def _global(self, name: str, depth: int) -> set[str]:
        out = self._bindings(self.table.bindings.get(name, ()), depth)
        if self.table.star_applies(name):
            out |= {f"{module}.{name}" for module, _, _ in self.table.stars}
        if name not in self.table.student and name not in self.table.imported:
            out.add(f"builtins.{name}")
        return out

    def _bindings(self, bindings: Any, depth: int) -> set[str]:
        out: set[str] = set()
        for binding in bindings:
            if binding[0] == "q":
                out.add(binding[1])
            elif binding[0] == "global":
                out |= self.global_value(binding[1], depth + 1)
            else:
                cell, self.cell = self.cell, binding[3]
                try:
                    out |= self.resolve(binding[1], binding[2], depth + 1)
                finally:
                    self.cell = cell
        return out

    def pure(self, node: ast.ClassDef, scope: Scope) -> bool:
        """Whether a student class derives from nothing but `object` and the student's own pure classes.

        Only such a class's methods excuse a Tensor method name (Value.backward): a subclass of
        torch.Tensor that defines `softmax` must not hide `super().softmax()`.
        """
        key = id(node)
        if key not in self.purity:
            self.purity[key] = False  # while deciding (a cycle): not pure
            self.purity[key] = not node.keywords and all(self._pure_base(b, scope) for b in node.bases)
        return self.purity[key]

    def _pure_base(self, base: ast.AST, scope: Scope) -> bool:
        if not isinstance(base, ast.Name) or scope.owner(base.id) is not None:
            return False
        if base.id == "object" and base.id not in self.table.positions:
            return True
        defs = self.classes.get(base.id)
        bindings = self.table.bindings.get(base.id, ())
        return bool(defs) and not bindings and all(self.pure(d, s) for d, s in defs)


def _collect(unit: Unit, resolver: Resolver) -> None:
    """Keep, for one unit, every dotted name, method name, string and route that could matter later."""
    _Collector(unit, resolver).run()


class _Collector:
    """One pass over a unit's nodes (in source order, a call before its parts)."""

    def __init__(self, unit: Unit, resolver: Resolver) -> None:
        self.unit = unit
        self.resolver = resolver
        self.exempt: set[int] = set()  # `getattr` names already judged as a call

    def escape(self, route: routes.Route | None, line: int, in_body: bool) -> None:
        if route is not None:
            self.unit.escapes.append((line, route, in_body))

    def refer(self, found: frozenset[str], line: int, in_body: bool, binds: str | None = None) -> None:
        if found:
            self.unit.refs.append((line, found, binds))
        for q in found:
            self.escape(_route_of(q), line, in_body)

    def run(self) -> None:
        unit = self.unit
        self.resolver.cell = unit.cell
        for node, scope, in_body in unit.nodes:
            line = getattr(node, "lineno", unit.line)
            if isinstance(node, ast.Name):
                if node.id in routes.NAMES:
                    self.escape(routes.Route(f"uses `{node.id}`", routes.INTERNALS), line, in_body)
                if node.id in routes.DEFINITIONS and not isinstance(node.ctx, ast.Load):
                    self.escape(routes.Route(f"defines `{node.id}`", routes.INTERNALS), line, in_body)
                if isinstance(node.ctx, ast.Load) and id(node) not in self.exempt:
                    self.refer(self.resolver.resolve(node, scope), line, in_body)
            elif isinstance(node, ast.Attribute):
                self.attribute(node, scope, line, in_body)
            elif isinstance(node, ast.Call):
                self.call(node, scope, line, in_body)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if len(node.value) <= 100 and IDENTIFIER.fullmatch(node.value):
                    unit.literals.append((line, node.value))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if scope.kind == "class" and isinstance(scope.node, ast.ClassDef) \
                        and self.resolver.pure(scope.node, scope.parent or scope):
                    unit.defined_methods.add(node.name)
                if node.name in routes.DEFINITIONS:
                    self.escape(routes.Route(f"defines `{node.name}`", routes.INTERNALS), line, in_body)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports(node, scope, line, in_body)
            elif isinstance(node, ast.Compare) and all(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
                for right in node.comparators:  # `if "model" not in globals():` only reads
                    if isinstance(right, ast.Call) and isinstance(right.func, ast.Name) and not right.args \
                            and right.func.id in ("globals", "locals", "vars"):
                        self.exempt.add(id(right.func))

    def attribute(self, node: ast.Attribute, scope: Scope, line: int, in_body: bool) -> None:
        if id(node) in self.exempt:
            return
        base = self.resolver.resolve(node.value, scope)
        if not (node.attr == "__dict__" and _is_self(node.value, scope)):
            self.escape(routes.attribute(node.attr), line, in_body)
        if not base:  # super().softmax() is never the student's own method
            self.unit.methods.append((line, node.attr, not _is_super(node.value)))
        if isinstance(node.ctx, ast.Load):
            self.refer(self.resolver.resolve(node, scope), line, in_body)
        else:
            self.assigns(base, node.attr, line, in_body)

    def assigns(self, base: frozenset[str], attr: str, line: int, in_body: bool) -> None:
        """`torch.exp = ...`, `del F.relu`, `setattr(torch, "exp", ...)`: a library changed."""
        for q in base:
            if not _instance(q) and not q.startswith(("@", "builtins.")):
                self.escape(routes.assignment(f"{q}.{attr}"), line, in_body)

    def call(self, node: ast.Call, scope: Scope, line: int, in_body: bool) -> None:
        if id(node.func) in self.exempt:
            return  # `"x" in vars()`
        func = self.resolver.resolve(node.func, scope)
        name = _text(node.args[1]) if len(node.args) >= 2 else None
        receiver = node.args[0] if node.args else None
        for builtin in ("getattr", "setattr", "delattr", "vars"):
            if f"builtins.{builtin}" not in func:
                continue
            self.exempt.add(id(node.func))
            if receiver is not None and _is_self(receiver, scope):
                continue  # the student's own object, in a method: setattr(self, f"conv{i}", layer)
            if builtin == "vars":
                self.escape(routes.Route("uses `vars`", routes.INTERNALS), line, in_body)
            elif name is None or receiver is None:
                reason = routes.LOOKUP if builtin == "getattr" else routes.PATCH
                self.escape(routes.Route(f"uses `{builtin}` with a computed name", reason,
                                         anywhere=builtin != "getattr"), line, in_body)
            else:
                self.escape(routes.attribute(name), line, in_body)
                base = self.resolver.resolve(receiver, scope)
                if builtin != "getattr":
                    self.assigns(base, name, line, in_body)
                elif not base:
                    self.unit.methods.append((line, name, True))
                else:
                    self.refer(self.resolver.resolve(node, scope), line, in_body)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if "torch.load" in func and (_is_false(keywords.get("weights_only")) or "pickle_module" in keywords):
            self.escape(routes.Route("uses `torch.load` with weights_only=False", routes.DYNAMIC), line, in_body)
        if "numpy.load" in func and "allow_pickle" in keywords and not _is_false(keywords["allow_pickle"]):
            self.escape(routes.Route("uses `numpy.load` with allow_pickle", routes.DYNAMIC), line, in_body)
        code = [*node.args[:2], *[v for k, v in keywords.items() if k in ("stmt", "setup")]]
        if func & TIMEIT and any(not isinstance(c, (ast.Lambda, ast.Name, ast.Attribute)) for c in code):
            self.escape(routes.Route("uses `timeit` on code in a string", routes.DYNAMIC), line, in_body)

    def imports(self, node: ast.Import | ast.ImportFrom, scope: Scope, line: int, in_body: bool) -> None:
        for alias in node.names:
            if isinstance(node, ast.Import):
                full = alias.name
                value = full if alias.asname else full.partition(".")[0]
                bound = alias.asname or value
            elif node.level:
                continue  # a relative import: a notebook is not a package
            else:
                full = f"{node.module}.{alias.name}" if alias.name != "*" else node.module or ""
                value, bound = full, alias.asname or alias.name
            route = routes.qualified(full)
            if route is not None:
                label = route.label.replace("uses ", "imports ", 1)
                self.escape(routes.Route(label, route.reason, route.anywhere), line, in_body)
            if alias.name != "*" and value.partition(".")[0] not in self.resolver.table.modules:
                self.unit.refs.append((line, frozenset({value}), bound if scope.kind == "module" else None))


def _route_of(q: str) -> routes.Route | None:
    """The route a dotted name is, for names the scan resolved (not the student's own objects)."""
    if _instance(q) or q.startswith("@"):
        return None
    if q == "builtins.getattr":
        return routes.Route("uses `getattr` with a computed name", routes.LOOKUP, anywhere=False)
    if q in ("builtins.setattr", "builtins.delattr"):
        return routes.Route(f"uses `{q[9:]}` with a computed name", routes.PATCH)
    return routes.qualified(q)


def _instance(q: str) -> bool:
    return "()" in q


def _is_self(node: ast.AST, scope: Scope) -> bool:
    """Whether `node` is the first parameter of the method it is used in (`self`)."""
    if not isinstance(node, ast.Name):
        return False
    owner = scope.owner(node.id)
    method = owner.node if owner is not None else None
    if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) or owner.parent is None \
            or owner.parent.kind != "class":
        return False
    first = [*method.args.posonlyargs, *method.args.args][:1]
    return bool(first) and first[0].arg == node.id


def _is_super(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _is_false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def shortcut_message(findings: list[Finding], hint: str = "") -> str:
    """The student's message for an exercise with findings: what, where, and what to do instead."""
    forbidden = [f for f in findings if f.kind == "forbidden"]
    if forbidden:
        items = [f"{f.label} ({f.where})" for f in forbidden[:3]]
        if len(forbidden) > 3:
            items.append(f"{len(forbidden) - 3} more")
        used = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        extra = f"; {hint}" if hint else ""
        return f"uses {used}, which this exercise does not allow{extra}"
    first, more = findings[0], len(findings) - 1
    also = f" (and {more} more place{'s' * (more > 1)} like it)" if more else ""
    return f"{first.label} ({first.where}): {first.reason}, and this exercise forbids shortcuts; remove it{also}"
