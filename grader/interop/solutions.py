"""Fill a starter's stubs with the references: the body of each stub between nbgrader's solution markers.

A stub is a function or method whose body is a docstring and `raise NotImplementedError(...)`.
Its signature and docstring stay as the starter has them; the statements are replaced by
the reference's body, and the module-level helpers the reference needs (a constant, an
import, a helper function) that the notebook does not define are put inside the markers too.
All of it is source text: nothing of `solutions/` is imported or run here.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
NOT_REFERENCES = {"checks.py", "mistakes.py"}


@dataclass(frozen=True)
class Reference:
    """One top-level definition of a reference module, as text."""

    node: ast.stmt
    lines: list[str]   # the module's lines


def load_references(folder: Path) -> dict[str, Reference]:
    """Every top-level binding of solutions/<unit>/*.py (but checks.py and mistakes.py), by name."""
    found: dict[str, Reference] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name in NOT_REFERENCES:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.parse(text, filename=str(path)).body:
            for name in _bound(node):
                found.setdefault(name, Reference(node, lines))
    return found


def fill_stubs(source: str, references: dict[str, Reference], known: set[str]) -> tuple[str, list[str]]:
    """The cell with each stub's body replaced by its reference between the markers; and the names filled.

    `known`: names the notebook binds at its top level (its imports and definitions), not copied in.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    edits: list[tuple[int, int, list[str]]] = []   # (first line, last line, new lines), 1-based
    filled: list[str] = []
    for node in tree.body:
        whole = _whole_class(node, references)
        if whole is not None:   # the starter gives methods the reference writes otherwise: the reference class
            block = [BEGIN, *_definition_text(whole, references, known), END]
            edits.append((node.end_lineno + 1, node.end_lineno, block))   # inserted after the class
            filled.append(node.name)
            continue
        for qualname, stub in _stubs(node):
            ref = _find(references, qualname)
            if ref is None:
                raise ConfigError(f"the starter's stub `{qualname}` has no reference in solutions/",
                                  "define it in one of the unit's solution modules")
            body = _body_text(ref, references, known | {qualname.split(".")[0]})
            first = stub.body[1] if _docstring(stub) else stub.body[0]
            indent = " " * first.col_offset
            block = [indent + BEGIN, *(indent + line if line else "" for line in body), indent + END]
            edits.append((first.lineno, stub.body[-1].end_lineno or first.lineno, block))
            filled.append(qualname)
    for start, end, block in sorted(edits, reverse=True):
        lines[start - 1:end] = block
    return "\n".join(lines), filled


def _whole_class(node: ast.stmt, references: dict[str, Reference]) -> ast.ClassDef | None:
    """The reference class, when the starter's class with stubs cannot be filled method by method:
    the reference has methods the starter lacks, or a method the starter gives differs from it."""
    if not isinstance(node, ast.ClassDef) or not _stubs(node):
        return None
    ref = references.get(node.name)
    if ref is None or not isinstance(ref.node, ast.ClassDef):
        return None
    given = {i.name: i for i in node.body if isinstance(i, ast.FunctionDef)}
    wanted = {i.name: i for i in ref.node.body if isinstance(i, ast.FunctionDef)}
    differs = any(name in wanted and not _is_stub(fn) and _code(fn) != _code(wanted[name]) for name, fn in given.items())
    return ref.node if set(wanted) - set(given) or differs else None


def _code(fn: ast.FunctionDef) -> str:
    body = fn.body[1:] if _docstring(fn) else fn.body
    return ast.dump(ast.Module(body=body, type_ignores=[])) + ast.dump(fn.args)


def _definition_text(node: ast.ClassDef, references: dict[str, Reference], known: set[str]) -> list[str]:
    """A whole reference definition with the module-level helpers it reads, as lines."""
    ref = references[node.name]
    lines: list[str] = []
    for helper in _helpers(node, references, known | {node.name}):   # type: ignore[arg-type]
        lines.extend(references[_bound(helper)[0]].lines[_first_line(helper) - 1:helper.end_lineno])
    return lines + ref.lines[_first_line(node) - 1:node.end_lineno]


def _stubs(node: ast.stmt) -> list[tuple[str, ast.FunctionDef]]:
    if isinstance(node, ast.FunctionDef) and _is_stub(node):
        return [(node.name, node)]
    if isinstance(node, ast.ClassDef):
        return [(f"{node.name}.{item.name}", item) for item in node.body
                if isinstance(item, ast.FunctionDef) and _is_stub(item)]
    return []


def _is_stub(fn: ast.FunctionDef) -> bool:
    rest = fn.body[1:] if _docstring(fn) else fn.body
    return bool(rest) and all(isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s.exc or s)
                              for s in rest if not isinstance(s, ast.Expr) or not _super_init(s))


def _super_init(stmt: ast.Expr) -> bool:
    """`super().__init__()` before the raise of a module's stub: kept as the reference's body has it."""
    return isinstance(stmt.value, ast.Call) and ast.unparse(stmt.value).startswith("super().__init__")


def _docstring(fn: ast.FunctionDef | ast.ClassDef) -> bool:
    first = fn.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def _find(references: dict[str, Reference], qualname: str) -> ast.FunctionDef | None:
    top, _, method = qualname.partition(".")
    ref = references.get(top)
    if ref is None:
        return None
    node = ref.node
    if method:
        if not isinstance(node, ast.ClassDef):
            return None
        node = next((i for i in node.body if isinstance(i, ast.FunctionDef) and i.name == method), None)
    return node if isinstance(node, ast.FunctionDef) else None


def _body_text(fn: ast.FunctionDef, references: dict[str, Reference], known: set[str]) -> list[str]:
    """The helpers the reference reads (in the order of their modules) and its body, dedented."""
    ref_lines = next(r.lines for r in references.values() if _contains(r.node, fn))
    statements = fn.body[1:] if _docstring(fn) else fn.body
    body = textwrap.dedent("\n".join(ref_lines[statements[0].lineno - 1:statements[-1].end_lineno])).splitlines()
    helpers: list[str] = []
    for node in _helpers(fn, references, known):
        helper = references[_bound(node)[0]]
        helpers.extend(textwrap.dedent("\n".join(helper.lines[_first_line(node) - 1:node.end_lineno])).splitlines())
    return helpers + body


def _contains(outer: ast.stmt, fn: ast.FunctionDef) -> bool:
    return any(node is fn for node in ast.walk(outer))


def _helpers(fn: ast.FunctionDef, references: dict[str, Reference], known: set[str]) -> list[ast.stmt]:
    """Module-level definitions the function reads, transitively, that the notebook does not bind."""
    needed: dict[int, ast.stmt] = {}
    todo = [fn]
    while todo:
        for name in _reads(todo.pop()):
            ref = references.get(name)
            if name in known or ref is None or id(ref.node) in needed:
                continue
            needed[id(ref.node)] = ref.node
            todo.append(ref.node)
    return sorted(needed.values(), key=lambda n: (_module_order(n, references), n.lineno))


def _module_order(node: ast.stmt, references: dict[str, Reference]) -> int:
    return next(i for i, r in enumerate(references.values()) if r.node is node)


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _bound(node: ast.stmt) -> list[str]:
    """The names a top-level statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def notebook_bindings(sources: list[str]) -> set[str]:
    """The names a notebook's code cells bind at the top level (cells that do not parse are skipped)."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            names.update(_bound(node))
    return names
