"""Collect a student's code from every notebook and .py file in a folder.

Notebooks are read as JSON (nbformat 3 and 4) without importing nbformat,
which is slow to import. The result is an ordered list of code cells; each
remembers where it came from so feedback can name it.

Everything here runs in the trusted process on files a student chose, so every
read is bounded: `walk` lists a folder without recursion and without following
links, within the caps below, and a cap that is hit becomes a note for the
student, never an exception. The caps are the one place these limits live.
"""
from __future__ import annotations

import ast
import json
import os
import stat
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from ..release.layout import notebook_version
from ..report.safe import capped, clip, printable
from .magics import strip_magics

# ------------------------------------------------ caps on one submission
MAX_DEPTH = 16                     # folder levels below the unit folder that are read
MAX_ENTRIES = 5_000                # files, folders and links looked at
MAX_TOTAL_BYTES = 256 * 2**20      # all files read (hashed) together
MAX_FILE_BYTES = 64 * 2**20        # one notebook or .py file
MAX_NOTEBOOK_CONTAINERS = 500_000  # JSON objects and arrays in one notebook (bounds memory)
MAX_CELLS = 500                    # code cells graded
MAX_SOURCE_BYTES = 8 * 2**20       # source of all graded cells together (UTF-8)

SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", ".git", ".grader"}
CODE_SUFFIXES = (".ipynb", ".py")


@dataclass(frozen=True)
class Cell:
    source: str
    origin: str  # e.g. "losses.ipynb, cell 3"


@dataclass
class Submission:
    cells: list[Cell] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # notebook -> the course version its metadata names
    graded_from: dict[str, str] = field(default_factory=dict)  # a name defined in several files -> the file graded


# ------------------------------------------------ the bounded walk
@dataclass(frozen=True)
class Entry:
    """One thing below the walked folder; `rel` is its '/'-separated path as the file system spells it."""

    rel: str
    kind: str               # file | link | other | over (a file past MAX_TOTAL_BYTES) | error
    size: int = 0
    errno: int | None = None

    @property
    def shown(self) -> str:
        """The path as it may be printed or stored (control characters escaped)."""
        return printable(self.rel)


@dataclass
class Walk:
    entries: list[Entry] = field(default_factory=list)   # files of a folder (sorted), then its sub-folders
    limits: list[str] = field(default_factory=list)      # the caps that were hit, as notes for the student


def walk(folder: Path) -> Walk:
    """Every file and link below `folder`, iteratively, never following links, within the caps.

    The order is os.walk's (a folder's files sorted by name, then each sub-folder in
    turn). Folders named in SKIP_DIRS or starting with '.' are not entered.
    """
    result = Walk()
    seen = total = 0
    too_deep: list[str] = []
    over: list[Entry] = []
    stack: list[tuple[Path, str, int]] = [(folder, "", 0)]
    while stack:
        path, prefix, depth = stack.pop()
        try:
            with os.scandir(path) as it:
                items = list(islice(it, MAX_ENTRIES - seen + 1))
        except OSError as exc:
            result.entries.append(Entry(prefix.rstrip("/") or ".", "error", errno=exc.errno))
            continue
        if seen + len(items) > MAX_ENTRIES:
            items = items[: MAX_ENTRIES - seen]
            result.limits.append(f"the submission has more than {MAX_ENTRIES:,} files and folders; "
                                 "the rest were not read")
            stack.clear()
        seen += len(items)
        folders = []
        for item in sorted(items, key=lambda i: i.name):
            rel = prefix + item.name
            try:
                if item.is_symlink():
                    result.entries.append(Entry(rel, "link"))
                elif item.is_dir(follow_symlinks=False):
                    if item.name not in SKIP_DIRS and not item.name.startswith("."):
                        folders.append(item)
                elif item.is_file(follow_symlinks=False):
                    size = item.stat(follow_symlinks=False).st_size
                    if total + size > MAX_TOTAL_BYTES:
                        over.append(Entry(rel, "over", size))
                        result.entries.append(over[-1])
                    else:
                        total += size
                        result.entries.append(Entry(rel, "file", size))
                else:
                    result.entries.append(Entry(rel, "other"))
            except OSError as exc:
                result.entries.append(Entry(rel, "error", errno=exc.errno))
        for item in reversed(folders):
            if depth + 1 > MAX_DEPTH:
                too_deep.append(prefix + item.name)
            else:
                stack.append((Path(item.path), prefix + item.name + "/", depth + 1))
        if result.limits:
            break
    if too_deep:
        result.limits.append(f"folders nested more than {MAX_DEPTH} levels deep were not read "
                             f"(first: {clip(printable(too_deep[0]), 120)})")
    if over:
        result.limits.append(f"{len(over)} file(s) were not read: all files together may hold at most "
                             f"{size_text(MAX_TOTAL_BYTES)} (first: {clip(over[0].shown, 120)}, "
                             f"{size_text(over[0].size)})")
    return result


def size_text(size: int) -> str:
    """'65 MiB', '120 KiB' or '300 bytes'."""
    if size >= 2**20:
        return f"{size // 2**20} MiB"
    return f"{size // 2**10} KiB" if size >= 2**10 else f"{size} bytes"


class TooLarge(OSError):
    """A file over the size allowed for it."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(0, f"{size_text(size)}, over the {size_text(limit)} limit")


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, never following a link; OSError when it is not one, TooLarge over `limit`."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        if info.st_size > limit:
            raise TooLarge(info.st_size, limit)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(len(data), limit)
    return data


# ------------------------------------------------ cells
def collect(path: Path) -> Submission:
    """Read a notebook, a .py file, or every such file below a folder."""
    sub = Submission()
    if path.is_symlink():
        sub.problems.append(f"{printable(path.name)} is a symbolic link; it was not followed")
        return sub
    budget = _Budget()
    if path.is_dir():
        listing = walk(path)
        code = [e for e in listing.entries if e.rel.endswith(CODE_SUFFIXES)
                and not any(part.startswith(".") for part in e.rel.split("/"))]
        for entry in sorted(code, key=lambda e: e.rel.split("/")):
            if entry.kind == "link":
                sub.problems.append(f"{entry.shown} is a symbolic link; it was not followed")
            elif entry.kind in ("file", "error"):
                _add_file(path / entry.rel, entry.shown, sub, budget)
        sub.problems.extend(listing.limits)
    elif path.is_file():
        _add_file(path, printable(path.name), sub, budget)
    else:
        sub.problems.append(f"{printable(path)} does not exist")
    sub.problems = capped(sub.problems, what="more problems with files")
    sub.problems.extend(budget.notes())
    return sub


def from_cells(cells: list[tuple[str, str]], label: str) -> Submission:
    """A submission from cells already in memory, as (source, origin) pairs (a kernel's input history).

    The same caps as for files hold; IPython-only lines are neutralised as in a notebook.
    """
    sub = Submission(files=[label])
    budget = _Budget()
    for source, origin in cells:
        if source.strip() and budget.admit(source, origin):
            sub.cells.append(Cell(strip_magics(source), origin))
    sub.problems.extend(budget.notes())
    return sub


class _Budget:
    """How many cells and bytes of source are still allowed; what was left out."""

    def __init__(self) -> None:
        self.cells = self.bytes = 0
        self.dropped_cells: list[str] = []
        self.dropped_bytes: list[str] = []

    def admit(self, source: str, origin: str) -> bool:
        size = len(source.encode("utf-8", "surrogatepass"))
        if self.cells >= MAX_CELLS:
            self.dropped_cells.append(origin)
            return False
        if self.bytes + size > MAX_SOURCE_BYTES:
            self.dropped_bytes.append(origin)
            return False
        self.cells += 1
        self.bytes += size
        return True

    def notes(self) -> list[str]:
        notes = []
        if self.dropped_cells:
            notes.append(f"only the first {MAX_CELLS} code cells were graded; {len(self.dropped_cells)} more "
                         f"were not (first: {clip(self.dropped_cells[0], 120)})")
        if self.dropped_bytes:
            notes.append(f"{len(self.dropped_bytes)} cell(s) were not graded: the code may hold at most "
                         f"{size_text(MAX_SOURCE_BYTES)} in all (first: {clip(self.dropped_bytes[0], 120)})")
        return notes


def _add_file(file: Path, name: str, sub: Submission, budget: _Budget) -> None:
    try:
        raw = read_bounded(file, MAX_FILE_BYTES)
    except TooLarge as exc:
        sub.problems.append(f"{name} is {exc.strerror}; skipped")
        return
    except OSError as exc:
        sub.problems.append(f"{name} could not be read: {exc.strerror or exc}; skipped")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        sub.problems.append(f"{name} is not UTF-8 text (bad byte at offset {exc.start}); skipped")
        return
    if file.suffix == ".py":
        if budget.admit(text, name):
            sub.cells.append(Cell(text, name))
            sub.files.append(name)
        return
    try:
        sources, metadata = read_notebook(text)
    except ValueError as exc:
        sub.problems.append(f"{name} is not a readable notebook: {exc}; skipped")
        return
    sub.files.append(name)
    version = notebook_version(metadata)
    if version is not None:
        sub.versions[name] = version
    for index, source in sources:
        origin = f"{name}, cell {index}"
        if budget.admit(source, origin):
            sub.cells.append(Cell(strip_magics(source), origin))


def notebook_sources(text: str) -> list[tuple[int, str]]:
    """Return (1-based cell number, source) for every code cell of a notebook."""
    return read_notebook(text)[0]


def read_notebook(text: str) -> tuple[list[tuple[int, str]], object]:
    """(1-based cell number, source) for every code cell of a notebook, and the notebook's metadata."""
    if text.count("{") + text.count("[") > MAX_NOTEBOOK_CONTAINERS:
        raise ValueError(f"it holds more than {MAX_NOTEBOOK_CONTAINERS:,} JSON objects and lists")
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise ValueError("its JSON is nested too deeply") from None
    if not isinstance(nb, dict):
        raise ValueError("the top level is not a JSON object")
    major = nb.get("nbformat", 4)
    if major == 3:
        cells = [c for ws in nb.get("worksheets") or [] if isinstance(ws, dict) for c in ws.get("cells") or []]
        key = "input"
    elif major == 4:
        cells, key = nb.get("cells"), "source"
    else:
        raise ValueError(f"nbformat {clip(printable(repr(major)), 40)} is not supported (3 and 4 are)")
    if not isinstance(cells, list):
        raise ValueError("it has no list of cells")
    result = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get(key, "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str) and source.strip():
            result.append((number, source))
    return result, nb.get("metadata")


# ------------------------------------------------ copies of a notebook
# Jupyter's "Duplicate" puts `losses-Copy1.ipynb` beside the untouched starter, and the files run in
# name order: without this, the starter's stubs would replace every solution in the copy.
def starter_code(folder: Path) -> dict[str, tuple[str, ...]]:
    """The released starters of a unit (exercises/<unit>/): file name -> its code cells as they are graded.

    Only code cells count, so the metadata a release stamps and the outputs Jupyter saves do not matter.
    """
    starters: dict[str, tuple[str, ...]] = {}
    try:
        names = sorted(p.name for p in folder.iterdir() if p.suffix == ".ipynb")
    except OSError:
        return starters
    for name in names:
        try:
            text = read_bounded(folder / name, MAX_FILE_BYTES).decode("utf-8-sig")
            starters[name] = tuple(_plain(strip_magics(src)) for _, src in read_notebook(text)[0])
        except (OSError, UnicodeDecodeError, ValueError):
            continue
    return starters


def settle_copies(sub: Submission, starters: dict[str, tuple[str, ...]] | None = None,
                  own_starters: set[str] = frozenset(), *, names: set[str] | None = None) -> Submission:
    """Grade the student's own definitions when a notebook has copies; say which file was graded.

    1. A file with the code of a released starter is left out when another file holds work
       (`own_starters`: names of files that *are* the starters on disk, never compared with themselves).
    2. A name defined in several files: the graded definition is the last one that is not an
       unfinished stub (a body that only raises NotImplementedError, or `pass`/`...`); stubs after
       it are blanked (lines kept, so line numbers stay right). `graded_from` records the file,
       and a note says which file's definition was graded (for `names`, the exercises' entry
       points, when given; else for every name that is a stub somewhere).
    """
    notes: list[str] = []
    if starters:
        code: dict[str, list[str]] = {}
        for cell in sub.cells:
            code.setdefault(origin_file(cell.origin), []).append(_plain(cell.source))
        same = {f: next(n for n, c in starters.items() if c == tuple(cells)) for f, cells in code.items()
                if f not in own_starters and tuple(cells) in starters.values()}
        if same and len(same) < len(code):
            for file, starter in same.items():
                notes.append(f"{file} has the code of the released starter {starter}; it was not graded "
                             "(your other files were)")
            sub.cells = [c for c in sub.cells if origin_file(c.origin) not in same]
            sub.files = [f for f in sub.files if f not in same]
    notes.extend(_settle_definitions(sub, names))
    sub.problems.extend(capped([clip(n) for n in notes], what="more notes about copies"))
    return sub


@dataclass(frozen=True)
class _Definition:
    cell: int
    file: str
    lines: tuple[int, int]   # first and last line, 1-based, decorators included
    stub: bool
    code: str                # the definition's AST dump, to tell copies from different versions


def _settle_definitions(sub: Submission, names: set[str] | None) -> list[str]:
    found: dict[str, list[_Definition]] = {}
    for index, cell in enumerate(sub.cells):
        for name, definition in _definitions(index, cell):
            found.setdefault(name, []).append(definition)
    blank: dict[int, list[tuple[int, int]]] = {}
    notes = []
    for name, defs in sorted(found.items()):
        files = list(dict.fromkeys(d.file for d in defs))
        if len(files) < 2:
            continue
        real = [d for d in defs if not d.stub]
        graded = real[-1] if real else defs[-1]
        later_stubs = [d for d in defs if d.stub and d.cell > graded.cell]
        for d in later_stubs:
            blank.setdefault(d.cell, []).append(d.lines)
        sub.graded_from[name] = graded.file
        if len({d.code for d in defs}) == 1 or not (name in names if names is not None else any(d.stub for d in defs)):
            continue   # the same code in every file (nothing to choose), or a helper nobody asked about
        others = ", ".join(f for f in files if f != graded.file)
        if later_stubs:
            notes.append(f"`{name}` is defined in {graded.file} and {others}; the one in {graded.file} was graded "
                         f"(in {', '.join(dict.fromkeys(d.file for d in later_stubs))} it is the unfinished stub)")
        else:
            notes.append(f"`{name}` is defined in {', '.join(files)}; the last definition (in {graded.file}) "
                         "was graded")
    for index, spans in blank.items():
        lines = sub.cells[index].source.split("\n")
        for first, last in spans:
            lines[first - 1:last] = [""] * (last - first + 1)
        sub.cells[index] = Cell("\n".join(lines), sub.cells[index].origin)
    return notes


def _definitions(index: int, cell: Cell) -> list[tuple[str, _Definition]]:
    if len(cell.source) > 1_000_000:
        return []
    try:
        tree = ast.parse(cell.source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found.append((node.name, _Definition(index, origin_file(cell.origin), (first, node.end_lineno or first),
                                                 _is_stub(node), ast.dump(node))))
    return found


def _is_stub(node: ast.AST) -> bool:
    """A released stub: a function whose body is empty (pass, ...) or ends in a plain
    `raise NotImplementedError(...)`, or a class with such a method."""
    if isinstance(node, ast.ClassDef):
        return any(_is_stub(n) for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = [n for n in node.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    if not body or (len(body) == 1 and isinstance(body[0], ast.Pass)):
        return True   # only a docstring, `...` or `pass`
    last = body[-1]
    if isinstance(last, ast.Raise) and last.exc is not None:
        target = last.exc.func if isinstance(last.exc, ast.Call) else last.exc
        return isinstance(target, ast.Name) and target.id == "NotImplementedError"
    return False


def origin_file(origin: str) -> str:
    """The file a cell came from: 'losses.ipynb' for 'losses.ipynb, cell 3'."""
    return origin.split(", cell ")[0]


def _plain(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())
