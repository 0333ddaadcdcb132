"""What the notebook's trusted helper keeps warm between one kernel's checks.

The helper (`grader.notebook.remote.serve`) lives as long as the kernel and answers each
`check()` with a `WarmChecker`: it keeps each unit's plan (expected outputs, computed once
from the references or read from a release's data) and a sandbox zygote that imported
torch once, so a check only forks a fresh sandboxed worker from it, as a batch does. Each
check gets its own worker: nothing a student's code did in one check (kill its worker,
leave threads or files behind) reaches the next. Only the cells the checked exercises need
are sent (`needed.select_cells`).

Slots: as root the zygote holds one leased slot user (`runner/sandbox/slots.py`) while it
is warm. After `idle_seconds` without a check the zygote is stopped and the slot given back,
so an open but unused kernel holds no slot; the next check starts a new zygote (as slow as
the first check). A zygote that died (killed from outside, or by a student's code where no
pid namespace hides it) is replaced before the next check, and a check that found it dead
is run once more on a new one.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GraderFailure
from .collect import from_cells
from .needed import Selection, select_cells

HISTORY = "this notebook's kernel history"
IDLE_ENV = "GRADER_CHECK_IDLE"   # seconds a warm zygote (and its slot) is kept without a check
DEFAULT_IDLE_SECONDS = 120.0
SKIPPED_SHOWN = 10               # skipped cells named in the note; the rest are counted


def idle_seconds() -> float:
    """How long the helper keeps its zygote and slot without a check ($GRADER_CHECK_IDLE, default 120 s)."""
    try:
        return max(1.0, float(os.environ.get(IDLE_ENV, DEFAULT_IDLE_SECONDS)))
    except ValueError:
        return DEFAULT_IDLE_SECONDS


@dataclass
class _Warm:
    """A started launcher and what it was started for."""

    key: tuple
    launcher: Any
    zygote: bool   # a ZygoteLauncher (else the plain-process fallback)


class WarmChecker:
    """Checks a kernel's cells with a cached plan and a warm zygote; one per helper process."""

    def __init__(self) -> None:
        self.plans: dict[tuple, Any] = {}
        self.warm: _Warm | None = None
        self.checks = 0
        self.zygotes_started = 0
        self.last_selection: Selection | None = None

    def check(self, course: Any, unit_id: str, exercises: list[str], device: str,
              cells: list[tuple[str, str]]) -> Any:
        """The UnitResult for the cells, as `grader check` gives it for the cells the exercises need."""
        from ..api import worker_failure
        from ..checking import check_submission
        from ..runner.session import WorkerFailure

        unit = course.unit(unit_id)
        for name in exercises:
            unit.exercise(name)
        only = exercises or None
        starting = None
        if self._launcher_key(course, device) != (self.warm.key if self.warm else None):
            starting = _Starter(self, course, device)   # the zygote imports torch while the plan is made
        plan = self._plan(course, unit, device, only)
        selection = select_cells([source for source, _ in cells], entry_names(plan))
        self.last_selection = selection
        submission = from_cells([cells[i] for i in selection.kept], HISTORY)
        for attempt in (1, 2):
            warm = starting.result() if starting else self._ensure(course, device)
            starting = None
            try:
                result = check_submission(course, unit, submission, launcher=warm.launcher, device=plan.device,
                                          only=only, plan=plan)
                break
            except WorkerFailure as exc:
                self.stop()           # a dead or broken zygote: the next attempt starts a new one
                if attempt == 2:
                    raise worker_failure(exc) from exc
        self.checks += 1
        self._retire_if_worn()
        note = skipped_note([cells[i][1] for i in selection.skipped])
        if note:
            result.notes.append(note)
        return result

    def status(self) -> dict:
        """Plain figures the kernel may see: which processes served the check, and how many checks so far."""
        launcher = self.warm.launcher if self.warm else None
        proc = getattr(launcher, "_proc", None) if self.warm and self.warm.zygote else None
        selection = self.last_selection
        return {"helper_pid": os.getpid(), "zygote_pid": proc.pid if proc is not None else None,
                "checks": self.checks, "zygotes_started": self.zygotes_started,
                "kept": len(selection.kept) if selection else 0,
                "skipped": len(selection.skipped) if selection else 0}

    def stop(self) -> None:
        """Stop the zygote and its workers and give the slot back (idle, interrupted, or done)."""
        warm, self.warm = self.warm, None
        if warm is not None:
            try:
                warm.launcher.close()
            except Exception:  # noqa: BLE001  (closing what already died must not fail the next check)
                pass

    # -- plumbing
    def _plan(self, course: Any, unit: Any, device: str, only: list[str] | None) -> Any:
        key = (str(course.root), unit.id, device, tuple(only or ()), _fingerprint(course, unit.id))
        plan = self.plans.get(key)
        if plan is None:
            if course.release is not None:   # a student release: the public checks are data
                from ..release.load import load_release_plan

                plan = load_release_plan(course, unit, device=device, only=only)
            else:
                from ..checking import plan_unit

                plan = plan_unit(course, unit, device=device, only=only)
            self.plans = {k: v for k, v in self.plans.items() if k[:4] != key[:4]}  # an older plan of an edited unit
            self.plans[key] = plan
        return plan

    @staticmethod
    def _launcher_key(course: Any, device: str) -> tuple:
        limits = course.limits
        return (device, limits.memory_mb, limits.cpus, int(limits.submission_timeout))

    def _ensure(self, course: Any, device: str) -> _Warm:
        key = self._launcher_key(course, device)
        if self.warm is not None and (self.warm.key != key or not self._alive(self.warm)):
            self.stop()
        if self.warm is None:
            self.warm = self._start(course, device)
        return self.warm

    def _start(self, course: Any, device: str) -> _Warm:
        from ..api import _say_waiting
        from ..runner.local import LocalLauncher, LocalPolicy

        key = self._launcher_key(course, device)
        try:
            from ..runner.sandbox import SandboxPolicy, ZygoteLauncher
            from ..runner.sandbox.child import wants_gpu

            policy = SandboxPolicy(memory_mb=course.limits.memory_mb, cpus=course.limits.cpus,
                                   cpu_seconds=int(course.limits.submission_timeout) + 10, gpu=wants_gpu(device))
            launcher = ZygoteLauncher(policy, 1, on_wait=_say_waiting)
            self.zygotes_started += 1
            return _Warm(key, launcher, True)
        except Exception:  # noqa: BLE001  (no usable sandbox layer here: a plain separate process, as `grader check`)
            return _Warm(key, LocalLauncher(LocalPolicy(memory_mb=course.limits.memory_mb)), False)

    @staticmethod
    def _alive(warm: _Warm) -> bool:
        proc = getattr(warm.launcher, "_proc", None)
        return proc is None or proc.poll() is None

    def _retire_if_worn(self) -> None:
        """A ZygoteLauncher revives a dead zygote a few times only; a helper that lives for days starts afresh."""
        if self.warm is not None and getattr(self.warm.launcher, "restarts", 0) >= 2:
            self.stop()


class _Starter:
    """Starts the launcher on a thread while the caller plans (the zygote's import of torch overlaps it)."""

    def __init__(self, checker: WarmChecker, course: Any, device: str) -> None:
        self._checker, self._course, self._device = checker, course, device
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._checker._ensure(self._course, self._device)
        except BaseException as exc:  # noqa: BLE001  (raised again in the caller's thread)
            self._error = exc

    def result(self) -> _Warm:
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._checker.warm is None:
            raise GraderFailure("the sandbox for the notebook's checks did not start")
        return self._checker.warm


def entry_names(plan: Any) -> set[str]:
    """The names the planned cases look up in the student's namespace (entries, and driver inputs that name one)."""
    names: set[str] = set()
    for cases in plan.cases.values():
        for planned in cases:
            names.update(planned.exercise.entry)
            inputs = planned.inputs
            if isinstance(inputs, dict):
                names.update(v for k, v in inputs.items() if k in ("fn", "cls") and isinstance(v, str))
    return names


def skipped_note(origins: list[str]) -> str | None:
    """'skipped 3 cells that define nothing checked: In [4], In [7], In [9]' (None when none were)."""
    if not origins:
        return None
    shown = [_short(o) for o in origins[:SKIPPED_SHOWN]]
    more = f" and {len(origins) - SKIPPED_SHOWN} more" if len(origins) > SKIPPED_SHOWN else ""
    cells = "1 cell that defines" if len(origins) == 1 else f"{len(origins)} cells that define"
    return f"skipped {cells} nothing checked: {', '.join(shown)}{more}"


def _short(origin: str) -> str:
    match = re.fullmatch(r"kernel input \[(\d+)\]", origin)
    return f"In [{match.group(1)}]" if match else origin


def _fingerprint(course: Any, unit_id: str) -> tuple:
    """Sizes and times of the files a plan is computed from, so an edited reference is planned again."""
    found = []
    for folder in (Path(course.root) / "solutions" / unit_id, Path(course.root) / "checks" / unit_id):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        found.append((entry.path, info.st_size, info.st_mtime_ns))
        except OSError:
            continue
    try:
        info = os.stat(Path(course.root) / "course.toml")
        found.append(("course.toml", info.st_size, info.st_mtime_ns))
    except OSError:
        pass
    return tuple(sorted(found))
