"""Helpers for the release tests: an instructor course with a secret, searching a release, student submissions."""
from __future__ import annotations

import ast
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from helpers import COURSE, ROOT

from grader.notebook.collect import notebook_sources
from grader.notebook.magics import strip_magics
from grader.spec.loader import load_unit_spec

UNITS = [u.id for u in COURSE.units]
SECRET_VALUE = "hidden-seed-7f3c0e1d9b2a48e6a5c4"       # the course secret's value, in a file named by course.toml
SECRET_NAME = "GRADER_RELEASE_TEST_SECRET"      # secret_env must start with GRADER_ (never passed to workers)


def instructor_course(folder: Path) -> Path:
    """A copy of the course (course.toml, symlinked solutions/exercises/quizzes) with hidden-check settings."""
    folder.mkdir(parents=True)
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    secret = folder / ".grader-secret-test" / "secret"
    secret.parent.mkdir()
    secret.write_text(SECRET_VALUE + "\n", encoding="utf-8")
    settings = f'[grading]\nsecret_env = "{SECRET_NAME}"\nsecret_file = "{secret.parent.name}/secret"\n'
    text = re.sub(r"\[grading\]\n(?:[^\[\n][^\n]*\n|\n)*", settings + "\n", text, count=1)
    if "[grading]" not in text:
        text += "\n" + settings
    (folder / "course.toml").write_text(text, encoding="utf-8")
    for name in ("solutions", "exercises", "quizzes"):
        (folder / name).symlink_to(ROOT / name)
    return folder


# ---------------------------------------------------------------- what a release holds, as text and code
@dataclass
class Shipped:
    """One file of a release (or a member of an archive in it): its name, its text, its Python code."""

    name: str
    text: str
    code: list[str]     # Python sources it holds (a .py file, a notebook's code cells)


def shipped_files(release: Path) -> list[Shipped]:
    """Every file of the release, archives (the wheel, the .npz) opened, text decoded as far as it goes."""
    out = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        out.extend(_unpack(path.relative_to(release).as_posix(), path.read_bytes()))
    return out


def _unpack(name: str, data: bytes) -> list[Shipped]:
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [item for member in archive.namelist() for item in _unpack(f"{name}!{member}", archive.read(member))]
    text = data.decode("utf-8", errors="replace")
    code: list[str] = []
    if name.endswith(".py"):
        code = [text]
    elif name.endswith(".ipynb"):
        code = [strip_magics(source) for _, source in notebook_sources(text)]
    return [Shipped(name, text, code)]


# ---------------------------------------------------------------- reference and mistake code, as AST dumps
class _Names(ast.NodeTransformer):
    """Every identifier the code chooses (names, arguments, definitions) replaced by its order of appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.seen.setdefault(name, f"v{len(self.seen)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def _definition(self, node: ast.AST) -> ast.AST:
        node.name = self._name(node.name)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str) and len(body) > 1:
            node.body = body[1:]   # the docstring
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition


def definitions(source: str) -> list[ast.AST]:
    """Every function and class definition in the source, nested ones too."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def dumps(node: ast.AST) -> tuple[str, str]:
    """The exact AST dump of a definition and the dump with every chosen name normalised."""
    exact = ast.dump(node)
    return exact, ast.dump(_Names().visit(ast.parse(ast.unparse(node)).body[0]))


@dataclass(frozen=True)
class Reference:
    label: str        # "solutions/unit1/shallow.py: softmax"
    exact: str
    normalised: str
    lines: tuple[str, ...]   # its distinctive source lines, searched as text


def reference_code(public: set[str]) -> list[Reference]:
    """Every definition in solutions/ (references, checks, mistakes) and every mistake implementation,
    except code that the instructor's own starter notebooks give students (`public` dumps)."""
    found: dict[str, Reference] = {}
    sources = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted((ROOT / "solutions").rglob("*.py"))]
    for unit in UNITS:   # the mistake implementations the catalogue names, wherever they are defined
        for exercise in load_unit_spec(COURSE, COURSE.unit(unit)).exercises.values():
            for mistake in exercise.mistakes:
                for fn in mistake.replace.values():
                    try:
                        sources.append((f"{unit} mistake {fn.__name__}", inspect.getsource(fn)))
                    except (OSError, TypeError):
                        pass
    for origin, source in sources:
        for node in definitions(source):
            exact, normalised = dumps(node)
            if exact in public or normalised in public:
                continue
            text = ast.get_source_segment(source, node) or ast.unparse(node)
            found.setdefault(normalised, Reference(f"{origin}: {node.name}", exact, normalised, distinctive(text)))
    return list(found.values())


def distinctive(source: str) -> tuple[str, ...]:
    """Lines of code (not comments, docstrings or imports) long enough to tell one implementation."""
    lines = []
    for line in source.splitlines()[1:]:
        line = line.split("#")[0].strip()
        if len(line) >= 30 and not line.startswith(('"', "'", "import ", "from ")) and not line.endswith('"""'):
            lines.append(line)
    return tuple(lines)


def starter_code() -> tuple[set[str], str]:
    """The AST dumps of every definition in the instructor's starter notebooks, and all their text."""
    dumps_: set[str] = set()
    texts = []
    for path in sorted((ROOT / "exercises").rglob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        texts.append(text)
        for _, source in notebook_sources(text):
            for node in definitions(strip_magics(source)):
                dumps_.update(dumps(node))
    return dumps_, "\n".join(texts)


def feedback_text() -> str:
    """Every hint the checks can give: shown to students on a failing check, in the release as in the course."""
    hints = []
    for unit in UNITS:
        for exercise in load_unit_spec(COURSE, COURSE.unit(unit)).exercises.values():
            hints += [m.hint for m in exercise.mistakes] + [exercise.forbidden_hint]
    return "\n".join(hints)


def find_code(folder: Path) -> tuple[list, list]:
    """Reference or mistake code in a folder: (label, file) of definitions found in its Python sources, exactly or
    with names changed; (label, line, file) of distinctive lines in its other files that no starter or hint shows."""
    public, starters = starter_code()
    references = reference_code(public)
    assert len(references) > 150   # every unit's references, checks, oracles and mistakes
    shipped = shipped_files(folder)
    found = {}
    for item in shipped:
        for source in item.code:
            for node in definitions(source):
                found.update(dict.fromkeys(dumps(node), item.name))
    definitions_found = [(r.label, found.get(r.exact) or found.get(r.normalised)) for r in references
                         if r.exact in found or r.normalised in found]
    shown = starters + feedback_text()   # a hint may spell out a line, e.g. "the lecture's form v = beta * v + ..."
    data = [item for item in shipped if not item.code]
    lines_found = [(r.label, line, item.name) for r in references for line in r.lines if line not in shown
                   for item in data if line in item.text]
    return definitions_found, lines_found


# ---------------------------------------------------------------- student submissions
def reference_files(unit: str) -> list[Path]:
    return [p for p in sorted((ROOT / "solutions" / unit).glob("*.py")) if p.stem not in ("checks", "mistakes", "__init__")]


def submit_references(unit: str, folder: Path) -> Path:
    """The references pasted as a student would: the .py files in the unit's folder."""
    folder.mkdir(parents=True)
    for path in reference_files(unit):
        shutil.copy(path, folder / path.name)
    return folder


def submit_mistakes(unit: str, folder: Path, pick: int) -> tuple[Path, list[str]]:
    """The references, then the mistake catalogue (its imports of the references dropped), then one catalogued
    wrong implementation bound to each exercise's entry (the `pick`-th that is a function of mistakes.py)."""
    submit_references(unit, folder)
    catalogue = (ROOT / "solutions" / unit / "mistakes.py").read_text(encoding="utf-8")
    catalogue = re.sub(r"^from \.\w+ import .*$", "", catalogue, flags=re.M)
    (folder / "y_mistakes.py").write_text(catalogue, encoding="utf-8")
    lines, chosen = [], []
    for exercise in load_unit_spec(COURSE, COURSE.unit(unit)).exercises.values():
        wrong = [m for m in exercise.mistakes if m.replace
                 and all(getattr(fn, "__module__", "").endswith(".mistakes") and fn.__name__ != "<lambda>"
                         for fn in m.replace.values())]
        if not wrong:
            continue
        mistake = wrong[pick % len(wrong)]
        lines += [f"{name} = {fn.__name__}" for name, fn in mistake.replace.items()]
        chosen.append(f"{exercise.name}: {mistake.hint}")
    (folder / "z_wrong.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder, chosen


# ---------------------------------------------------------------- running `grader check`
def grader_check(python: Path, cwd: Path, unit: str, path: Path, timeout: int = 600) -> dict:
    """`grader check UNIT --path PATH --json` with this interpreter, from cwd; the parsed JSON."""
    proc = subprocess.run([str(python), "-m", "grader", "check", unit, "--path", str(path), "--json", "--device", "cpu"],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"})
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return json.loads(proc.stdout)


def verdicts(result: dict) -> dict[str, list[tuple]]:
    """Each exercise's checks as (name, passed, message, hint), leaving out those checked at grading."""
    return {name: [(c["name"], c["passed"], c["message"], c.get("hint")) for c in ex["checks"]
                   if c.get("status") != "at_grading"]
            for name, ex in result["exercises"].items()}


def at_grading(result: dict) -> set[tuple[str, str]]:
    return {(name, c["name"]) for name, ex in result["exercises"].items() for c in ex["checks"]
            if c.get("status") == "at_grading"}


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def main_python() -> Path:
    return Path(sys.executable)
