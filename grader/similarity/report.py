"""`grader similarity` end to end: read a class, compare it, write pairs.json, index.html and the pair pages."""
from __future__ import annotations

import fcntl
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..batch import content_hash, discover
from ..atomic import write_text
from ..config import Course
from ..errors import UsageError
from ..report.safe import printable
from .analysis import ClassComparison, clusters, compare_class
from .fingerprint import boilerplate_hashes, overlap
from .pages import VERDICT, index_page, pair_page
from .regions import matching_regions
from .source import starter_statements, student_code

RECOMMENDED = 0.5   # the threshold the calibration recommends (docs/similarity.md); clusters and pages use it by default
MAX_PAGES = 100     # pair pages written by default: the most similar pairs at or above the threshold
_OURS = re.compile(r"pair-\d+\.html")
LOCK = ".similarity.lock"


@dataclass(frozen=True)
class Options:
    submissions: Path
    threshold: float | None = None
    pages: int = MAX_PAGES
    gradebook: Path | None = None


def similarity_report(course: Course, unit_id: str, options: Options) -> tuple[dict, ClassComparison]:
    """Compare the class in `options.submissions` for the unit; the JSON report and the comparison."""
    unit = course.unit(unit_id)
    folders, not_ids = discover(options.submissions, unit.id)
    grades = _grades(options, course, unit.id)   # first: a wrong --gradebook fails before the work
    starter_dir = course.exercises_dir / unit.id
    starter = starter_statements(starter_dir)
    boilerplate = boilerplate_hashes(_starter_text(starter_dir))
    codes, skipped = [], []
    for folder in folders:
        if folder.problem:
            skipped.append({"student": folder.student, "why": folder.problem})
            continue
        codes.append(student_code(folder.student, folder.path, starter))
    comparison = compare_class(codes, boilerplate)
    skipped += [{"student": s, "why": why} for s, why in sorted(comparison.skipped.items())]
    cut = options.threshold if options.threshold is not None else RECOMMENDED
    listed = [p for p in comparison.pairs if options.threshold is None or p.score >= options.threshold]
    report = {
        "unit": unit.id,
        "note": VERDICT,
        "threshold": options.threshold,
        "cluster_threshold": cut,
        "compared": len(comparison.prints),
        "pair_count": len(comparison.pairs),
        "pairs": [p.to_json() for p in listed],
        "clusters": [{"students": group, "highest": _highest(comparison, set(group))}
                     for group in clusters(comparison.pairs, cut)],
        "students": _students(codes, folders, grades),
        "skipped": skipped,
        "not_students": [printable(n) for n in not_ids],   # folders in DIR whose names are not student ids
    }
    paged = [p for p in report["pairs"] if p["score"] >= cut][: max(options.pages, 0)]
    for k, pair in enumerate(report["pairs"], start=1):
        pair["page"] = f"pair-{k}.html" if k <= len(paged) else None
    return report, comparison


def write_report(report: dict, comparison: ClassComparison, out: Path, *, course_name: str = "") -> list[Path]:
    """Write out/pairs.json, out/index.html and out/pair-<k>.html; stale pair pages of an earlier run are removed."""
    check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "a") as lock:   # two runs into one folder take turns: never a mix of both
        fcntl.flock(lock, fcntl.LOCK_EX)
        written = [_write(out / "pairs.json", json.dumps(report, indent=2) + "\n"),
                   _write(out / "index.html", index_page(report, course_name))]
        for pair in report["pairs"]:
            if not pair["page"]:
                break
            a, b = comparison.prints[pair["a"]], comparison.prints[pair["b"]]
            regions = matching_regions(a, b, overlap(a, b))
            written.append(_write(out / pair["page"], pair_page(pair, a.raw_code, b.raw_code, regions,
                                                                unit=report["unit"])))
        keep = {p.name for p in written}
        for stale in out.iterdir():
            if _OURS.fullmatch(stale.name) and stale.name not in keep and stale.is_file():
                stale.unlink()
    return written


def _highest(comparison: ClassComparison, group: set[str]) -> float:
    return max(p.score for p in comparison.pairs if p.a in group and p.b in group)


def check_out(out: Path) -> None:
    """Refuse to scatter pages into a folder that is not an earlier similarity report."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"{printable(out)} is not a folder", "give --out a folder (it is created when missing)")
    if out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()) and not (out / "pairs.json").is_file():
        raise UsageError(f"{printable(out)} already holds other files; nothing was written there",
                         "give --out a new folder, or one an earlier `grader similarity` wrote")


def _write(path: Path, text: str) -> Path:
    """Write atomically: a reader (or a second grader) never sees half a file."""
    return write_text(path, text)


def _starter_text(folder: Path) -> str:
    from ..notebook.collect import collect

    return "\n\n".join(c.source for c in collect(folder).cells) if folder.is_dir() else ""


def _grades(options: Options, course: Course, unit: str) -> dict | None:
    """student -> StoredGrade from --gradebook, or from gradebook.db beside course.toml when it is there."""
    path = options.gradebook or course.root / "gradebook.db"
    if options.gradebook is None and not path.is_file():
        return None
    from ..gradebook import Gradebook

    with Gradebook(path.absolute(), readonly=True) as gradebook:
        return {g.student: g for g in gradebook.grades(unit)}


def _students(codes, folders, grades: dict | None) -> dict:  # noqa: ANN001
    """student -> files compared and size; with a gradebook, their grade and whether the files changed since."""
    info: dict[str, dict] = {}
    for code in codes:
        info[code.student] = {"files": code.files, "chars": len(code.text), "problems": code.problems}
    for folder in folders:
        info.setdefault(folder.student, {"files": [], "chars": 0, "problems": [folder.problem]})
    if grades is None:
        return info
    paths = {f.student: f.path for f in folders}
    for student, entry in info.items():
        grade = grades.get(student)
        if grade is None:
            entry["graded"] = False
            continue
        entry.update(graded=True, status=grade.status, score=grade.score - grade.penalty, max_score=grade.max_score,
                     changed_since_grading=content_hash(paths[student])[0] != grade.content_hash)
    return info
