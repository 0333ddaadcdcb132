"""What a student wrote for a unit, as the text that similarity compares.

Runs in the trusted process on files a student chose, but never runs them: the
code is read with collect.py's bounded readers and only *parsed* (ast), never
executed. The pipeline, in order:

1. every code cell of DIR/<student>/<unit>/ (notebooks and .py files);
2. each top-level statement that the released starter (exercises/<unit>/*.ipynb)
   also holds is dropped, as are a stub still unfinished (`raise NotImplementedError`),
   `from grader import check` and `check(...)` cells: what everyone was given;
3. docstrings, comments, `print(...)` calls and blank lines are dropped, and the
   rest is written out again by `ast.unparse`, so layout, quoting and the spelling
   of numbers (1e-5, 0.00001) no longer differ;
4. a statement defined twice (a notebook and its "Copy1") is kept once.

A cell that does not parse is kept as it is (its comments still fall away when it
is tokenised). The result keeps, for each piece, where it came from.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from ..notebook.collect import MAX_FILE_BYTES, collect, read_bounded, read_notebook
from ..notebook.magics import strip_magics
from ..report.safe import printable

MAX_PARSE_CHARS = 200_000     # a cell longer than this is compared as text, not parsed
MAX_COMPARED_CHARS = 200_000  # a student's compared code at most (a unit's work is some 3,000 to 30,000)


@dataclass(frozen=True)
class Piece:
    origin: str     # "unit1.ipynb, cell 4"
    code: str       # normalised source


@dataclass
class StudentCode:
    """A student's own code for the unit and what could not be read."""

    student: str
    pieces: list[Piece] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The compared text: each piece under a comment naming its cell (comments are not fingerprinted)."""
        return "".join(f"# {printable(p.origin)}\n{p.code}\n\n" for p in self.pieces)


def starter_statements(folder: Path) -> set[str]:
    """The AST dumps of every top-level statement of the released starter notebooks (exercises/<unit>/)."""
    found: set[str] = set()
    try:
        notebooks = sorted(p for p in folder.iterdir() if p.suffix == ".ipynb")
    except OSError:
        return found
    for path in notebooks:
        try:
            sources = read_notebook(read_bounded(path, MAX_FILE_BYTES).decode("utf-8-sig"))[0]
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        for _, source in sources:
            tree = _parse(strip_magics(source))
            for node in tree.body if tree else ():
                found.add(ast.dump(node))
                normal = _Normalise().visit(node)
                if normal is not None:
                    found.add(ast.dump(normal))
    return found


def student_code(student: str, folder: Path, starter: set[str]) -> StudentCode:
    """Read DIR/<student>/<unit>/ and keep what the student wrote, normalised (see the module docstring)."""
    sub = collect(folder)
    result = StudentCode(student, files=list(sub.files), problems=list(sub.problems))
    seen: set[str] = set()
    size = 0
    for cell in sub.cells:
        code = own_code(cell.source, starter, seen)
        if not code:
            continue
        if size + len(code) > MAX_COMPARED_CHARS:
            result.problems.append(f"only the first {MAX_COMPARED_CHARS:,} characters of code were compared "
                                   f"(from {printable(cell.origin)} on, the rest was not)")
            break
        size += len(code)
        result.pieces.append(Piece(cell.origin, code))
    return result


def own_code(source: str, starter: set[str], seen: set[str]) -> str:
    """One cell's code less the starter's statements, stubs, checks, docstrings and prints, unparsed.

    `seen` collects the statements already kept for this student, so a copy of a cell counts once.
    """
    tree = _parse(source)
    if tree is None:
        return source.strip()   # does not parse: compared as it is
    kept = []
    for node in tree.body:
        try:
            text = _statement(node, starter, seen)
        except (RecursionError, ValueError, MemoryError):   # nested past what ast's visitors take: as written
            text = (ast.get_source_segment(source, node) or "").strip()
        if text:
            definition = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            kept.append(("\n" if definition and kept else "") + text)
    return "\n".join(kept).strip()


def _statement(node: ast.stmt, starter: set[str], seen: set[str]) -> str:
    """One top-level statement normalised and unparsed; "" when it is given, a stub, or kept already."""
    if ast.dump(node) in starter or _given(node):
        return ""
    normal = _Normalise().visit(node)
    if normal is None:
        return ""
    dump = ast.dump(normal)
    if dump in starter or dump in seen or _is_stub(normal):
        return ""
    seen.add(dump)
    return ast.unparse(normal)


def _parse(source: str) -> ast.Module | None:
    if len(source) > MAX_PARSE_CHARS:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _given(node: ast.stmt) -> bool:
    """`from grader import check`, `check("softmax")`: the grader's own lines, in every notebook."""
    if isinstance(node, ast.ImportFrom) and node.module == "grader":
        return True
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "check")


def _is_stub(node: ast.stmt) -> bool:
    """A function (or a class's method) whose body is still only `raise NotImplementedError(...)` or `pass`."""
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return bool(methods) and all(_is_stub(m) for m in methods)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = node.body
    if len(body) == 2 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Call):
        body = body[1:]   # `super().__init__()` before the raise
    if len(body) != 1:
        return False
    last = body[0]
    if isinstance(last, ast.Pass):
        return True
    if isinstance(last, ast.Raise) and last.exc is not None:
        target = last.exc.func if isinstance(last.exc, ast.Call) else last.exc
        return isinstance(target, ast.Name) and target.id == "NotImplementedError"
    return False


class _Normalise(ast.NodeTransformer):
    """Drop docstrings and `print(...)` statements; keep every body non-empty."""

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                continue   # a docstring, or a string left as a comment
            if _is_print(stmt):
                continue
            new = self.visit(stmt)
            if new is not None:
                out.append(new)
        return out or [ast.Pass()]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, name, self._body(value))
        for name, value in ast.iter_fields(node):
            if name in ("body", "orelse", "finalbody") and isinstance(value, list):
                continue
            if isinstance(value, ast.AST):
                setattr(node, name, self.visit(value))
            elif isinstance(value, list):
                setattr(node, name, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
        return node

    def visit(self, node: ast.AST) -> ast.AST | None:
        if isinstance(node, ast.stmt) and _is_print(node):
            return None
        return self.generic_visit(node)


def _is_print(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "print")
