"""The programmatic API behind the command line and the notebook check()."""
from __future__ import annotations

from pathlib import Path

from .config import Course, load_course
from .errors import GraderFailure, UsageError
from .notebook.collect import Submission, collect, settle_copies, starter_code
from .results import UnitResult


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; reject cuda without a GPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but torch sees no CUDA device", "use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"unknown device {device!r}", "use cpu, cuda or auto")
    return device


def check_unit(unit_id: str, *, path: Path | None = None, course: Course | None = None,
               exercises: list[str] | None = None, device: str = "auto", student: str | None = None,
               quiz: bool = True, submission: Submission | None = None, secret: str | None = None) -> UnitResult:
    """Check a student's work for a unit (default folder: exercises/<unit>/).

    `submission`: cells already collected (a notebook kernel's input history) instead of reading `path`.
    `secret`: the course secret, to run the hidden checks of `grader grade` instead of the public ones.
    """
    from .checking import check_submission
    from .runner.session import WorkerFailure

    course = course or load_course()
    unit = course.unit(unit_id)
    for name in exercises or []:
        unit.exercise(name)
    target = path or course.exercises_dir / unit.id
    if submission is None:
        if not target.exists():
            raise UsageError(f"{target} does not exist", "give the notebook or folder with --path")
        submission = collect(target)
        if target.is_dir():
            starters = course.exercises_dir / unit.id
            own = set(starter_code(starters)) if _same_folder(target, starters) else set()
            settle_copies(submission, starter_code(starters), own)
    launcher = check_launcher(course, device)
    try:
        plan = None
        if secret is not None:
            from .checking import plan_unit

            plan = plan_unit(course, unit, device=device, only=exercises, secret=secret)
        result = check_submission(course, unit, submission, launcher=launcher, device=device, only=exercises,
                                  plan=plan)
    except WorkerFailure as exc:
        raise worker_failure(exc) from exc
    finally:
        launcher.close()   # gives its sandbox slot back to other graders on this machine
    from .environment import missing_note

    if (note := missing_note(course.root)) is not None:
        result.notes.insert(0, note)
    if quiz and not exercises:
        from .quiz.check import check_quiz

        result.quiz = check_quiz(course, unit, target, student)
    return result


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def worker_failure(exc: BaseException) -> GraderFailure:
    """A worker that could not run at all is the grader's failure (exit code 3), told in one line."""
    from .report.safe import one_line

    return GraderFailure(one_line(exc, 400) or "the grading worker failed")


def check_launcher(course: Course, device: str = "auto"):  # noqa: ANN201
    """The launcher for one student's checks: a fresh sandboxed process, or a plain one if no layer works."""
    from .runner.local import LocalLauncher, LocalPolicy

    try:
        from .runner.sandbox import SandboxPolicy, SubprocessLauncher
        from .runner.sandbox.child import wants_gpu

        # CPU time per process covers the import of torch and the whole grading; wall-clock budgets stop loops sooner.
        cpu = int(course.limits.submission_timeout) + 10
        policy = SandboxPolicy(memory_mb=course.limits.memory_mb, cpu_seconds=cpu, cpus=course.limits.cpus,
                               gpu=wants_gpu(device))
        return SubprocessLauncher(policy, on_wait=_say_waiting)
    except Exception:  # noqa: BLE001  (no usable layer here: fall back to a plain separate process)
        return LocalLauncher(LocalPolicy(memory_mb=course.limits.memory_mb))


def _say_waiting(message: str) -> None:
    import sys

    print(f"grader: {message}", file=sys.stderr, flush=True)
