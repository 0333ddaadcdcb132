"""Build a student release: the course without its answers, as an ordered list of small steps.

    course.toml           the course without grading secrets (only what `grader check` and quizzes read)
    release.json          format, course version, units, grader version, creation time, sha256 of every file
    README.md             for students: install, check, quiz
    exercises/<unit>/     the starter notebooks, their metadata naming the course version
    checks/<unit>/        the public checks as data (manifest.json + cases.npz, grader.release.casefile)
    quizzes/<unit>.toml   the banks through grader.quiz.release.strip_bank (graded quizzes lose their keys)
    wheels/               the grader package, built with `pip wheel --no-deps`

Never solutions/, mistakes.py, a graded quiz's key or code that computes an expected output.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..config import COURSE_FILE, Course, Unit
from ..environment import course_packages
from ..errors import GraderFailure, UsageError
from .casefile import write_checks
from .export import UnitExport, export_unit
from .layout import (CHECKS_DIR, FORMAT, FORMAT_VERSION, NOTEBOOK_KEY, RELEASE_FILE, WHEEL_DIR, digest,
                     sha256_bytes)

SKIPPED = {"answers.toml", "__pycache__", ".ipynb_checkpoints"}


@dataclass
class ReleaseReport:
    """What `build_release` wrote: where, which units, how big, and what stays with the instructor."""

    out: Path
    course_version: str
    units: list[str]
    files: dict[str, str]                 # path -> sha256
    size: int                             # bytes, all files together
    wheel: str | None                     # the wheel's file name, None when it could not be built
    exports: list[UnitExport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def digest(self) -> str:
        return digest(self.files)


def build_release(course: Course, out: Path, *, units: list[str] | None = None, force: bool = False,
                  wheel: bool = True) -> ReleaseReport:
    """Write the student release of `course` (all units, or those named) into the folder `out`.

    `out` must not exist, be empty, or (with force) hold an earlier release, which is replaced
    whole. The release is written beside it and moved into place only when complete.
    """
    started = time.monotonic()
    if course.release is not None:
        raise UsageError("this course is a student release; releases are built from the instructor course")
    chosen = [course.unit(u) for u in units] if units else list(course.units)
    out = out.absolute()
    _check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        report = ReleaseReport(out=out, course_version=course.version, units=[u.id for u in chosen], files={},
                               size=0, wheel=None)
        _write_course(course, chosen, work)
        for unit in chosen:
            _write_notebooks(course, unit, work)
            report.exports.append(_write_checks(course, unit, work))
            _write_quiz(course, unit, work)
        if wheel:
            report.wheel = _write_wheel(work / WHEEL_DIR)
        _write_readme(course, chosen, report.wheel, work)
        report.files = _hashes(work)
        _refuse_leaks(report.files)
        _write_release_json(course, report, work)
        report.files[RELEASE_FILE] = sha256_bytes((work / RELEASE_FILE).read_bytes())
        report.size = sum((work / p).stat().st_size for p in report.files)
        _self_check(work, chosen)
        _move_into_place(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    report.seconds = time.monotonic() - started
    return report


def _check_target(out: Path, force: bool) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"{out} exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if not (out / RELEASE_FILE).is_file():
        raise UsageError(f"{out} is not empty and holds no release", "choose another folder")
    if not force:
        raise UsageError(f"{out} already holds a release", "pass --force to replace it")


def _move_into_place(work: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    work.rename(out)
    os.chmod(out, 0o755)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- course.toml
def course_toml(course: Course, units: list[Unit]) -> str:
    """course.toml of the release: only the settings the Course model reads, never [grading]."""
    lines = [f"# {course.name}: a student release made by `grader release` (see README.md). Do not edit.",
             "schema_version = 1", "", "[course]", f"name = {_toml(course.name)}", f"salt = {_toml(course.salt)}",
             f"version = {_toml(course.version)}", "", "[tolerances]"]
    for dtype, tol in course.tolerances.items():
        lines.append(f"{_key(dtype)} = {{ rtol = {tol.rtol!r}, atol = {tol.atol!r} }}")
    for device, table in course.device_tolerances.items():   # [tolerances.cuda]: `grader check --device cuda`
        lines += ["", f"[tolerances.{_key(device)}]"]
        lines += [f"{_key(dtype)} = {{ rtol = {tol.rtol!r}, atol = {tol.atol!r} }}" for dtype, tol in table.items()]
    limits = course.limits
    lines += ["", "[limits]", f"check_timeout = {limits.check_timeout!r}", f"load_timeout = {limits.load_timeout!r}",
              f"exercise_timeout = {limits.exercise_timeout!r}", f"submission_timeout = {limits.submission_timeout!r}",
              f"memory_mb = {limits.memory_mb!r}", f"cpus = {limits.cpus!r}"]
    packages = course_packages(course.root)
    if packages:   # the student installs them too; `grader check` names any that are missing
        lines += ["", "[environment]", "packages = [" + ", ".join(_toml(p) for p in packages) + "]"]
    for unit in units:
        lines += ["", "[[units]]", f"id = {_toml(unit.id)}", f"title = {_toml(unit.title)}", "exercises = ["]
        lines += [f"    {{ name = {_toml(e.name)}, points = {e.points!r} }}," for e in unit.exercises]
        lines.append("]")
        if unit.quiz is not None:
            practice = "true" if unit.quiz.practice else "false"
            lines.append(f"quiz = {{ points = {unit.quiz.points!r}, practice = {practice} }}")
    return "\n".join(lines) + "\n"


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() and name.isascii() else _toml(name)


def _write_course(course: Course, units: list[Unit], work: Path) -> None:
    from ..config import load_course

    (work / COURSE_FILE).write_text(course_toml(course, units), encoding="utf-8")
    again = load_course(work)
    if (again.name, again.salt, again.version, again.units, again.tolerances, again.limits) != (
            course.name, course.salt, course.version, tuple(units), course.tolerances, course.limits):
        raise GraderFailure("the release's course.toml does not read back as the course")


# ---------------------------------------------------------------- notebooks, checks, quizzes
def _write_notebooks(course: Course, unit: Unit, work: Path) -> None:
    """Every starter file of exercises/<unit>/; each notebook's metadata names the course version."""
    source = course.exercises_dir / unit.id
    if not source.is_dir():
        raise UsageError(f"{source} does not exist", "every released unit needs its starter notebooks")
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in SKIPPED or part.startswith(".") for part in rel.parts) or path.is_symlink() or path.is_dir():
            continue
        target = work / "exercises" / unit.id / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".ipynb":
            target.write_text(stamp_notebook(path.read_text(encoding="utf-8"), course.version, unit.id),
                              encoding="utf-8")
        else:
            shutil.copyfile(path, target)


def stamp_notebook(text: str, version: str, unit: str) -> str:
    """The notebook with metadata.dl_grader = {course_version, unit}, and no outputs left in it.

    Read and written with nbformat: an nbformat 3 starter is released as 4.5, every cell has
    an id, and the notebook is validated before it is written.
    """
    from ..notebook.nbio import reads, writes

    nb = reads(text)
    nb.metadata[NOTEBOOK_KEY] = {"course_version": version, "unit": unit}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return writes(nb) + "\n"


def _write_checks(course: Course, unit: Unit, work: Path) -> UnitExport:
    from ..checking import _REFERENCE_LOCK, plan_unit

    with _REFERENCE_LOCK:
        plan = plan_unit(course, unit, device="cpu")   # no secret: the public cases
        export = export_unit(plan)
    manifest = {**export.manifest, "course_version": course.version}
    write_checks(work / CHECKS_DIR / unit.id, manifest, export.arrays)
    return export


def _write_quiz(course: Course, unit: Unit, work: Path) -> None:
    bank = course.root / "quizzes" / f"{unit.id}.toml"
    if unit.quiz is None or not bank.is_file():
        return
    from ..quiz.release import strip_bank

    target = work / "quizzes" / f"{unit.id}.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(strip_bank(bank, practice=unit.quiz.practice), encoding="utf-8")


# ---------------------------------------------------------------- the grader wheel
def project_dir() -> Path | None:
    """The source tree the grader package is installed from (editable), or None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "grader" / "__init__.py").is_file() else None


def _write_wheel(folder: Path) -> str | None:
    """`pip wheel --no-deps` of a clean copy of the grader package (pyproject.toml and grader/ only)."""
    root = project_dir()
    if root is None:
        return None
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="grader-wheel-") as tmp:
        copy = Path(tmp) / "src"
        copy.mkdir()
        shutil.copy2(root / "pyproject.toml", copy / "pyproject.toml")
        shutil.copytree(root / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                              "--disable-pip-version-check", "--quiet", "--wheel-dir", str(folder), str(copy)],
                             capture_output=True, text=True, timeout=600)
    wheels = sorted(folder.glob("*.whl"))
    if run.returncode != 0 or len(wheels) != 1:
        raise GraderFailure(f"pip wheel failed: {(run.stderr or run.stdout).strip()[-400:]}")
    return wheels[0].name


# ---------------------------------------------------------------- README, hashes, release.json
def _write_readme(course: Course, units: list[Unit], wheel: str | None, work: Path) -> None:
    install = (f"python -m pip install {WHEEL_DIR}/{wheel}" if wheel
               else f"python -m pip install 'dl-grader=={__version__}'")
    lines = [
        f"# {course.name}: exercises (course version {course.version or 'unversioned'})", "",
        "Your exercises, their public checks and the quizzes. Work in the notebooks of",
        "`exercises/<unit>/`; `grader check` runs the public checks on your code in seconds,",
        "offline, with the same feedback and hints as the course's grader.", "",
        "## Set up (once)", "", "```bash", "python -m venv .venv && . .venv/bin/activate",
        f"{install}   # the grader and what it needs (torch, numpy, sympy...)", "```", "",
        *([f"The course's notebooks also import: `python -m pip install {' '.join(course_packages(course.root))}`.",
           ""] if course_packages(course.root) else []),
        "Without an NVIDIA GPU, install PyTorch's CPU build first; the default build is several GB:",
        "`python -m pip install torch --index-url https://download.pytorch.org/whl/cpu`.", "",
        "## Check your work", "", "```bash",
        *(f"{command:<30}# {why}" for command, why in (
            ("cd path/to/this/folder", "grader finds course.toml here"),
            ("grader list", "units, exercises and points"),
            (f"grader check {units[0].id}", "every exercise of the unit"),
            (f"grader check {units[0].id} --json", "one JSON object"),
            ("grader login YOUR_ID", "once: your quiz variant"),
            (f"grader quiz {units[0].id}", "take the quiz in the terminal"))),
        "```", "",
        "In a notebook: `from grader import check; check(\"exercise_name\")`.", "",
        "## What the checks are", "",
        "The checks here are the *public* checks: their inputs and expected results ship with",
        "this folder (`checks/`). Your grade comes from the instructor's *hidden* checks, the same",
        "kind of checks on other inputs, so code that only reproduces the public results fails there.",
        "A check marked \"checked at grading\" needs data that stays with the instructor; it counts",
        "in no score here. Do not edit `checks/` or `release.json`: the grader verifies them.", "",
        "Units: " + ", ".join(f"{u.id} ({u.title})" for u in units) + ".", ""]
    (work / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _hashes(work: Path) -> dict[str, str]:
    files = {}
    for path in sorted(work.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[path.relative_to(work).as_posix()] = sha256_bytes(path.read_bytes())
    return files


def _refuse_leaks(files: dict[str, str]) -> None:
    """A last guard: no path of the release may name the instructor's folders or the mistake catalogue."""
    bad = [p for p in files if "solutions" in p.split("/") or p.endswith("mistakes.py") or p.endswith("checks.py")]
    if bad:
        raise GraderFailure(f"the release would hold {bad[0]}; nothing was written")


def _write_release_json(course: Course, report: ReleaseReport, work: Path) -> None:
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "course": course.name,
            "course_version": course.version, "digest": report.digest, "units": report.units,
            "grader_version": __version__, "wheel": f"{WHEEL_DIR}/{report.wheel}" if report.wheel else None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": report.files}
    (work / RELEASE_FILE).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _self_check(work: Path, units: list[Unit]) -> None:
    """Read every unit's checks back from the written release, as a student's grader will."""
    from ..config import load_course
    from .load import load_release_plan

    released = load_course(work)
    for unit in units:
        load_release_plan(released, released.unit(unit.id), device="cpu")
