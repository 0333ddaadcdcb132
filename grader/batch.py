"""Grade a whole class: discover submissions, grade them in parallel sandboxed slots, record grades.

The imperative shell around `checking.check_submission`. The layout is nbgrader's
"submitted" folder, `DIR/<student_id>/<unit>/`. Each worker thread owns one slot (its
own sandbox uid) and checks one student at a time; the main thread alone writes the
gradebook, one transaction per student, so a batch killed at any moment resumes
where it stopped. A broken or hostile submission is a result, never a crash.
"""
from __future__ import annotations

import errno
import hashlib
import os
import queue
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import __version__
from .checking import UnitPlan, check_submission, plan_unit
from .config import Course, Unit
from .errors import GraderFailure, UsageError
from .gradebook import Gradebook
from .late import TIMESTAMP_FILE, record_lateness
from .notebook.collect import Submission, collect, origin_file, settle_copies, starter_code, walk
from .report.safe import capped, clip, one_line
from .results import ExerciseResult, UnitResult

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
MAX_CONSECUTIVE_GRADER_ERRORS = 3
HASH_CHUNK = 1 << 20


# ---------------------------------------------------------------- discovery
@dataclass(frozen=True)
class StudentFolder:
    """One student's folder for the unit; `problem` says why it cannot be graded at all."""

    student: str
    path: Path
    problem: str | None = None


def discover(submissions: Path, unit_id: str, *, student: str | None = None) -> tuple[list[StudentFolder], list[str]]:
    """Every `DIR/<student>/<unit>/`, and the names skipped because they are not student ids."""
    if not submissions.is_dir():
        raise UsageError(f"{submissions} is not a folder", "give the folder holding one sub-folder per student")
    folders, skipped = [], []
    for entry in sorted(submissions.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name.startswith(".") or (not entry.is_dir() and not entry.is_symlink()):
            continue
        if not STUDENT_ID.fullmatch(name):
            skipped.append(f"{name!r}: not a valid student id (letters, digits and ._@+- only)")
            continue
        if student is not None and name != student:
            continue
        unit_dir = entry / unit_id
        if entry.is_symlink():
            folders.append(StudentFolder(name, unit_dir, "the student's folder is a symbolic link; not followed"))
        elif unit_dir.is_symlink():
            folders.append(StudentFolder(name, unit_dir, f"{unit_id}/ is a symbolic link; not followed"))
        elif not unit_dir.is_dir():
            folders.append(StudentFolder(name, unit_dir, f"no {unit_id}/ folder in the submission"))
        else:
            folders.append(StudentFolder(name, unit_dir))
    if student is not None and not folders:
        raise UsageError(f"no student '{student}' in {submissions}")
    return folders, skipped


def content_hash(folder: Path) -> tuple[str, dict[str, str]]:
    """A digest of every file below folder (names, bytes, link targets), never following links.

    Reads what `collect.walk` lists, within its caps (a cap that was hit is part of the
    digest). Returns the digest and each regular file's own digest by its printable path.
    """
    digest = hashlib.sha256()
    files: dict[str, str] = {}
    if folder.is_symlink():
        digest.update(b"link:" + os.fsencode(os.readlink(folder)))
        return "sha256:" + digest.hexdigest(), files
    if not folder.is_dir():
        digest.update(b"missing")
        return "sha256:" + digest.hexdigest(), files
    listing = walk(folder)
    for entry in listing.entries:
        if entry.rel == TIMESTAMP_FILE:   # when it was handed in, not what: grader.late re-reads it every run
            continue
        rel = os.fsencode(entry.rel)
        try:
            if entry.kind == "link":
                digest.update(b"L " + rel + b"\0" + os.fsencode(os.readlink(folder / entry.rel)) + b"\0")
            elif entry.kind == "file":
                own = _file_digest(folder / entry.rel)
                files[entry.shown] = own
                digest.update(b"F " + rel + b"\0" + own.encode() + b"\0")
            elif entry.kind == "over":
                digest.update(b"S " + rel + f"\0{entry.size}\0".encode())
            elif entry.kind == "error":
                digest.update(b"E " + rel + f"\0{entry.errno}\0".encode())
        except OSError as exc:
            digest.update(b"E " + rel + f"\0{exc.errno}\0".encode())
    for note in listing.limits:
        digest.update(b"X " + note.encode("utf-8", "backslashreplace") + b"\0")
    return "sha256:" + digest.hexdigest(), files


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def spec_hash(course: Course, unit: Unit, secret: str | None = None) -> str:
    """A digest of everything besides the submission that a grade depends on.

    That includes which cases decide it: the public ones, or the hidden ones of this
    secret (by its fingerprint), so switching between them re-grades everyone.
    """
    from .secret import secret_fingerprint

    cases = "public" if secret is None else f"hidden {secret_fingerprint(secret)}"
    h = hashlib.sha256()
    h.update(f"grader {__version__}\0{unit!r}\0{sorted(course.tolerances.items())!r}\0{course.limits!r}\0".encode())
    h.update(f"cases {cases}\0".encode())
    folder = course.solutions_dir / unit.id
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


# ---------------------------------------------------------------- one student
def prepare(folder: StudentFolder, files: dict[str, str], entry_names: set[str],
            starters: dict[str, tuple[str, ...]] | None = None) -> Submission:
    """Collect the student's code, drop identical duplicate files and untouched starters, and say which
    file's definition is graded where several define it (`collect.settle_copies`)."""
    if folder.problem:
        return Submission(problems=[folder.problem])
    sub = collect(folder.path)
    seen: dict[str, str] = {}
    dropped, copies = set(), []
    for name in sub.files:  # names come from collect, already printable
        digest = files.get(name)
        if digest is not None and digest in seen:
            copies.append(clip(f"{name} is an identical copy of {seen[digest]}; it was graded once"))
            dropped.add(name)
        elif digest is not None:
            seen[digest] = name
    if dropped:
        sub.cells = [c for c in sub.cells if origin_file(c.origin) not in dropped]
        sub.files = [f for f in sub.files if f not in dropped]
    sub.problems.extend(capped(copies, what="more identical copies"))
    return settle_copies(sub, starters, names=entry_names)


def nothing_to_grade(unit: Unit, reason: str, notes: list[str]) -> UnitResult:
    """A zero for every exercise, each carrying the reason (no worker is started)."""
    result = UnitResult(unit=unit.id, notes=list(notes))
    for ex in unit.exercises:
        result.exercises[ex.name] = ExerciseResult(ex.name, ex.points, [], f"not graded: {reason}")
    return result


# ---------------------------------------------------------------- launcher
@dataclass
class LauncherChoice:
    launcher: object
    report: str
    strong: bool
    fallback: str | None = None  # why the sandbox could not be used


def open_launcher(course: Course, workers: int, *, exam: bool = False, mode: str = "auto",
                  device: str = "cpu", on_wait: Callable[[str], None] | None = None) -> LauncherChoice:
    """The zygote sandbox when it starts; else, outside exam mode, a local launcher with a loud reason.

    The sandbox leases its slots from the machine's pool (shared with other graders), so it may
    get fewer than `workers`; `launcher.workers` says how many. on_wait(message) is called once
    when every slot is in use and it waits for one.
    """
    from .runner.local import LocalLauncher, LocalPolicy
    from .runner.sandbox.child import wants_gpu

    if mode not in ("auto", "sandbox", "local"):
        raise UsageError(f"unknown launcher {mode!r}", "use auto, sandbox or local")
    if mode == "local":
        if exam:
            raise GraderFailure("exam mode refuses to grade without the sandbox (--launcher local was given)")
        launcher = LocalLauncher(LocalPolicy(memory_mb=course.limits.memory_mb))
        return LauncherChoice(launcher, "sandbox: OFF (local processes, no isolation; --launcher local)", False)
    try:
        from .runner.sandbox import SandboxPolicy, ZygoteLauncher

        policy = SandboxPolicy(memory_mb=course.limits.memory_mb, cpus=course.limits.cpus, exam=exam,
                               cpu_seconds=int(course.limits.submission_timeout),
                               gpu=wants_gpu(device))
        launcher = ZygoteLauncher(policy, workers, on_wait=on_wait)
    except Exception as exc:  # noqa: BLE001  (ImportError, SandboxError, OSError: all mean "no sandbox")
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if exam or mode == "sandbox":
            raise GraderFailure(f"the sandbox could not start: {reason}",
                                "exam mode never grades unprotected; see docs/security.md") from exc
        fallback = LocalLauncher(LocalPolicy(memory_mb=course.limits.memory_mb))
        return LauncherChoice(fallback, f"sandbox: UNAVAILABLE ({reason}) -> grading WITHOUT isolation "
                              "in local processes; student code can read solutions and write files", False, reason)
    caps = getattr(launcher, "capabilities", None)
    missing = caps.missing(launcher.workers) if caps is not None else ["capabilities unknown"]
    if exam and missing:
        launcher.close()
        raise GraderFailure("exam mode refuses to grade: missing sandbox layers: " + "; ".join(missing))
    report = launcher.report()
    if launcher.workers < workers:
        report += f" [{launcher.workers} of {workers} workers: other graders on this machine hold the other slots]"
    return LauncherChoice(launcher, report, not missing)


# ---------------------------------------------------------------- the batch
@dataclass
class Outcome:
    """What happened to one student in this batch."""

    student: str
    status: str            # graded | ungradable | grader_error | skipped
    result: UnitResult | None = None
    error: str | None = None
    content_hash: str = ""
    seconds: float = 0.0


@dataclass
class BatchOptions:
    workers: int = 0                 # 0: all cores
    force: bool = False
    student: str | None = None
    exam: bool = False
    launcher: str = "auto"           # auto | sandbox | local
    device: str = "cpu"
    public: bool = False             # grade on the public cases (the instructor's trials), not the hidden ones
    cluster: str | None = None       # a Dask scheduler address or local:N (grader.cluster); None: this machine


@dataclass
class BatchReport:
    unit: str
    sandbox: str
    strong: bool
    students: list[str] = field(default_factory=list)   # every student of this batch, graded or skipped
    outcomes: list[Outcome] = field(default_factory=list)
    skipped_names: list[str] = field(default_factory=list)
    identical: list[list[str]] = field(default_factory=list)
    aborted: str | None = None
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many students ended with this status in this batch."""
        return sum(o.status == status for o in self.outcomes)


@dataclass
class _Job:
    folder: StudentFolder
    content_hash: str
    files: dict[str, str]


def grade_batch(course: Course, unit: Unit, submissions: Path, gradebook: Gradebook, options: BatchOptions, *,
                on_start: Callable[[str, int], None] | None = None,
                on_outcome: Callable[[Outcome], None] | None = None,
                on_wait: Callable[[str], None] | None = None,
                on_note: Callable[[str], None] | None = None) -> BatchReport:
    """Grade every student in submissions into gradebook; returns what was done.

    The hidden cases, seeded from the course secret, decide the grades (a missing secret
    file is created, and on_note(message) says so); options.public grades on the public
    cases instead. on_start(sandbox_report, jobs) is called once the launcher is up;
    on_outcome after each student is recorded (for a progress bar).
    """
    from .secret import course_secret

    started = time.monotonic()
    folders, skipped_names = discover(submissions, unit.id, student=options.student)
    secret = None if options.public else course_secret(course, create=True, say=on_note)
    from .environment import missing_note

    if (note := missing_note(course.root)) is not None and on_note is not None:
        on_note(note)
    spec = spec_hash(course, unit, secret)
    known = gradebook.fingerprints(unit.id)
    jobs, outcomes, by_hash = [], [], {}
    for folder in folders:
        try:
            digest, files = content_hash(folder.path)
        except Exception as exc:  # noqa: BLE001  (an unreadable folder is that student's result, never the batch's)
            reason = f"the submission could not be read: {type(exc).__name__}: {one_line(exc)}"
            jobs.append(_Job(StudentFolder(folder.student, folder.path, folder.problem or reason), "unreadable", {}))
            continue
        if folder.problem is None and files:
            by_hash.setdefault(digest, []).append(folder.student)
        before = known.get(folder.student)
        if (not options.force and before is not None and before.status != "grader_error"
                and before.content_hash == digest and before.spec_hash == spec):
            outcomes.append(Outcome(folder.student, "skipped", content_hash=digest))
            continue
        jobs.append(_Job(folder, digest, files))
    workers = max(1, min(options.workers or os.cpu_count() or 1, max(len(jobs), 1)))
    if jobs and options.cluster:   # Dask workers grade; this process plans and records (grader.cluster)
        from .cluster import open_cluster

        choice = open_cluster(options.cluster, course, options, on_note=on_note)
    else:
        choice = open_launcher(course, workers, exam=options.exam, mode=options.launcher, device=options.device,
                               on_wait=on_wait) if jobs else \
            LauncherChoice(None, "sandbox: not started (nothing to grade)", True)
    workers = getattr(choice.launcher, "workers", workers)
    report = BatchReport(unit.id, choice.report, choice.strong, [f.student for f in folders], outcomes,
                         skipped_names, [sorted(s) for s in by_hash.values() if len(s) > 1])
    if on_start:
        on_start(choice.report, len(jobs))
    _grade_quizzes(course, unit, folders, gradebook)
    if not jobs:
        record_lateness(course, unit, folders, gradebook)
        report.seconds = time.monotonic() - started
        return report
    run_id = gradebook.begin_run(unit.id, choice.report, {
        "workers": workers, "force": options.force, "student": options.student, "exam": options.exam,
        "launcher": options.launcher, "jobs": len(jobs), "cases": "public" if secret is None else "hidden",
        "cluster": options.cluster})
    try:
        record = Recorder(gradebook, unit.id, spec, run_id, report, on_outcome)
        if options.cluster:
            choice.launcher.grade(course, unit, jobs, secret, record)
        else:
            plan = plan_unit(course, unit, device=options.device, secret=secret)
            _run_pool(course, unit, jobs, plan, entry_code(course, unit, plan), choice.launcher, workers, record)
    finally:
        choice.launcher.close()
        report.seconds = time.monotonic() - started
        gradebook.finish_run(run_id, {s: report.count(s) for s in ("graded", "ungradable", "grader_error",
                                                                   "skipped")} | {"aborted": report.aborted})
    record_lateness(course, unit, folders, gradebook)   # timestamp.txt and course.toml's [late]: grader/late.py
    return report


def _grade_quizzes(course: Course, unit: Unit, folders: list[StudentFolder], gradebook: Gradebook) -> None:
    """Quizzes are graded in this process: answers are parsed, never executed (grader.quiz.expr)."""
    from .quiz.batch import grade_quizzes

    grade_quizzes(course, unit, [(f.student, f.path) for f in folders if f.problem is None], gradebook)


def entry_code(course: Course, unit: Unit, plan: UnitPlan) -> tuple[set[str], dict]:
    """What `prepare` needs besides the folder: the exercises' entry names and the released starters' code."""
    entry_names = {n for ex in plan.spec.exercises.values() for n in ex.entry}
    return entry_names, starter_code(course.exercises_dir / unit.id)


class Recorder:
    """The one place a batch writes grades: one transaction per student, from the calling thread only."""

    def __init__(self, gradebook: Gradebook, unit_id: str, spec: str, run_id: int, report: BatchReport,
                 on_outcome: Callable[[Outcome], None] | None) -> None:
        self.gradebook, self.unit_id, self.spec, self.run_id = gradebook, unit_id, spec, run_id
        self.report, self.on_outcome = report, on_outcome
        self.consecutive = 0

    def __call__(self, outcome: Outcome) -> bool:
        """Record one student's outcome; True when the batch must stop (grader errors in a row)."""
        self.gradebook.record(self.unit_id, outcome.student, outcome.result, status=outcome.status,
                              content_hash=outcome.content_hash, spec_hash=self.spec, error=outcome.error,
                              run_id=self.run_id)
        self.report.outcomes.append(outcome)
        if self.on_outcome:
            self.on_outcome(outcome)
        self.consecutive = self.consecutive + 1 if outcome.status == "grader_error" else 0
        if self.consecutive >= MAX_CONSECUTIVE_GRADER_ERRORS:
            self.report.aborted = (f"{self.consecutive} students in a row could not be graded because of the "
                                   f"grader (last: {outcome.error}); stopped")
            return True
        return False


def _run_pool(course: Course, unit: Unit, jobs: list[_Job], plan: UnitPlan, code: tuple[set[str], dict],
              launcher: object, workers: int, record: Recorder) -> None:
    todo: queue.Queue[_Job] = queue.Queue()
    done: queue.Queue[Outcome | BaseException] = queue.Queue()
    stop = threading.Event()
    for job in jobs:
        todo.put(job)

    def slot_loop(slot: int) -> None:
        while not stop.is_set():
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put(_grade_one(course, unit, job, plan, code, launcher, slot))
            except BaseException as exc:  # noqa: BLE001  (a grader failure ends the batch in the main thread)
                done.put(exc)
                return

    threads = [threading.Thread(target=slot_loop, args=(k,), name=f"grade-slot{k}", daemon=True)
               for k in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(len(jobs)):
            if record(_next(done, threads)):
                break
    finally:
        stop.set()  # results still in flight are dropped: those students are graded on the next run


def _next(done: "queue.Queue[Outcome | BaseException]", threads: list[threading.Thread]) -> Outcome:
    while True:
        try:
            item = done.get(timeout=0.5)
        except queue.Empty:
            if not any(t.is_alive() for t in threads) and done.empty():
                raise GraderFailure("every grading thread stopped before the batch was finished") from None
            continue
        if isinstance(item, BaseException):
            raise item
        return item


def _grade_one(course: Course, unit: Unit, job: _Job, plan: UnitPlan, code: tuple[set[str], dict],
               launcher: object, slot: int) -> Outcome:
    """Grade one student; `code` is (the exercises' entry names, the released starters' code cells)."""
    sub = prepare_job(unit, job, code)
    if isinstance(sub, Outcome):
        return sub
    return grade_prepared(course, unit, job.folder.student, job.content_hash, sub, plan, launcher, slot)


def prepare_job(unit: Unit, job: _Job, code: tuple[set[str], dict]) -> Submission | Outcome:
    """The student's cells ready to run, or the `ungradable` outcome when there is nothing to run."""
    def outcome(reason: str, notes: list[str]) -> Outcome:
        return Outcome(job.folder.student, "ungradable", nothing_to_grade(unit, reason, notes), reason,
                       job.content_hash)

    try:
        sub = prepare(job.folder, job.files, *code)
    except Exception as exc:  # noqa: BLE001  (an unreadable folder is the student's problem)
        return outcome(f"the submission could not be read: {type(exc).__name__}: {one_line(exc)}", [])
    if not sub.cells:
        return outcome("; ".join(sub.problems) if sub.problems else f"no notebooks or .py files in {unit.id}/",
                       sub.problems)
    return sub


def grade_prepared(course: Course, unit: Unit, student: str, digest: str, sub: Submission, plan: UnitPlan,
                   launcher: object, slot: int) -> Outcome:
    """Run one prepared submission's checks in a sandboxed worker (twice on a grader failure)."""
    from .runner.session import WorkerFailure

    started = time.monotonic()

    def outcome(status: str, result: UnitResult, error: str | None = None) -> Outcome:
        return Outcome(student, status, result, error, digest, time.monotonic() - started)

    last = None
    for _attempt in range(2):
        try:
            result = check_submission(course, unit, sub, launcher=launcher, slot=slot, plan=plan)
            return outcome("graded", result)
        except GraderFailure:
            raise
        except WorkerFailure as exc:
            last = f"the grader could not start a worker: {exc}"
        except Exception as exc:  # noqa: BLE001  (a launcher or sandbox failure: retried, then recorded)
            last = f"grading failed inside the grader: {type(exc).__name__}: {exc}"
    reason = last or "unknown grader failure"
    return outcome("grader_error", nothing_to_grade(unit, reason, sub.problems), reason)


