"""What the notebook's trusted helper keeps warm between one kernel's checks.

The helper (`grader.notebook.remote.serve`) lives as long as the kernel and answers each
`check()` with a `WarmChecker`. It keeps each unit's plan (the expected outputs, computed
once from the references or read from a release's data) and, once the first check has
been answered, a sandbox zygote that imported torch once: a later check only forks a
fresh sandboxed worker from it, as a batch does. The first check runs in a fresh
sandboxed process as `grader check` does (a zygote's start costs more than that, and it
is made while the student reads the first result). Each check gets its own worker:
nothing a student's code did in one check (kill its worker, leave threads or files)
reaches the next. Only the cells the checked exercises need are run (`needed.py`).

Slots: as root a cold check leases a slot user for its own process only, and the zygote
holds one leased slot (`runner/sandbox/slots.py`) while it is warm. After
`idle_seconds()` without a check the zygote is stopped and its slot given back, so an
open but unused kernel holds no slot; the next check is cold again. A zygote found dead
(killed from outside, or by a student's code where no pid namespace hides it) is
dropped: that check runs cold and a new zygote starts after it.
"""
from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """A started zygote launcher and what it was started for."""

    key: tuple
    launcher: Any
    used: float   # time.monotonic() of its start or its last check


class WarmChecker:
    """Checks a kernel's cells with a cached plan and, after the first check, a warm zygote; one per helper.

    A cold check (the first, or the first after an idle stop or a dead zygote) runs in a fresh
    sandboxed process, as `grader check` does; `warm_up()`, called once its reply is sent,
    then starts the zygote in the background for the checks that follow.
    """

    def __init__(self) -> None:
        self.plans: dict[tuple, Any] = {}
        self.warm: _Warm | None = None
        self.checks = 0
        self.zygotes_started = 0
        self.last: dict = {}
        self._wanted: tuple[Any, str] | None = None   # (course, device) of the last check
        self._starting: threading.Thread | None = None
        self._lock = threading.Lock()

    def check(self, course: Any, unit_id: str, exercises: list[str], device: str,
              cells: list[tuple[str, str]], secret: str | None = None) -> Any:
        """The UnitResult for the cells, as `grader check` gives it for the cells the exercises need.

        With the course secret: the hidden checks, on every cell as `grader grade` runs them (an
        nbgrader test cell's score must equal grade's), so no cell is skipped.
        """
        from ..api import check_launcher, worker_failure
        from ..checking import run_checks
        from ..runner.session import WorkerFailure

        unit = course.unit(unit_id)
        for name in exercises:
            unit.exercise(name)
        only = exercises or None
        self._wanted = (course, device)
        names = self._entry_guess(course, unit, only) if secret is None else EVERY_CELL
        if names is None:                     # unreadable without planning: plan first
            names = entry_names(self._plan(course, unit, device, only))
        selection, submission = _select(cells, names)
        warm = self._ready(course, device)
        launcher = warm.launcher if warm else check_launcher(course, device)
        try:
            session = _session(course, launcher, submission)
            try:
                session.start()               # a cold worker imports torch while the plan is made
                plan = self._plan(course, unit, device, only, secret)
                if names is not EVERY_CELL and not entry_names(plan) <= names:   # the checks' text named fewer
                    session.close()
                    selection, submission = _select(cells, entry_names(plan))
                    session = _session(course, launcher, submission)
            except BaseException:
                session.close()
                raise
            result = run_checks(course, unit, submission, session, device=plan.device, only=only, plan=plan)
        except WorkerFailure as exc:
            self.stop()                       # a broken zygote is not used again
            raise worker_failure(exc) from exc
        finally:
            if warm is None:
                launcher.close()              # a cold check's fresh process gives its slot back at once
        self.checks += 1
        if warm is not None:
            warm.used = time.monotonic()
            if getattr(warm.launcher, "restarts", 0) >= 2:   # it revives a dead zygote a few times only
                self.stop()
        proc = getattr(warm.launcher, "_proc", None) if warm else None
        self.last = {"warm": warm is not None, "zygote_pid": proc.pid if proc is not None else None,
                     "kept": len(selection.kept), "skipped": len(selection.skipped)}
        note = skipped_note([cells[i][1] for i in selection.skipped])
        if note:
            result.notes.append(note)
        return result

    def status(self) -> dict:
        """Plain figures the kernel may see: which processes served the last check, how many checks so far."""
        return {"helper_pid": os.getpid(), "checks": self.checks, "zygotes_started": self.zygotes_started,
                **self.last}

    def warm_up(self) -> None:
        """After a reply: start a zygote in the background for the next check, unless one is warm or starting."""
        with self._lock:
            if self._wanted is None or self._starting is not None:
                return
            if self.warm is not None and self._alive(self.warm) and self.warm.key == self._key(*self._wanted):
                return
            course, device = self._wanted
            self._starting = threading.Thread(target=self._start, args=(course, device), daemon=True)
            self._starting.start()

    def idle(self, seconds: float) -> None:
        """Stop a zygote that served no check for `seconds` (its slot goes back to other graders)."""
        if self._starting is None and self.warm is not None and time.monotonic() - self.warm.used >= seconds:
            self.stop()

    def stop(self) -> None:
        """Stop the zygote and its workers and give the slot back (idle, interrupted, broken, or done)."""
        starting = self._starting
        if starting is not None:
            starting.join()
        with self._lock:
            warm, self.warm = self.warm, None
        if warm is not None:
            try:
                warm.launcher.close()
            except Exception:  # noqa: BLE001  (closing what already died must not fail the next check)
                pass

    # -- plumbing
    def _entry_guess(self, course: Any, unit: Any, only: list[str] | None) -> set[str] | None:
        """The names the exercises look up, without importing torch: from a cached plan, else read as text."""
        wanted = only or [e.name for e in unit.exercises]
        prefix = (str(course.root), unit.id)
        for key, plan in self.plans.items():
            if key[:2] == prefix and set(wanted) <= set(plan.cases):
                return entry_names(plan)
        entries = entries_as_text(course, unit.id)
        if entries is None or not set(wanted) <= set(entries):
            return None
        return set().union(*(entries[name] for name in wanted))

    def _plan(self, course: Any, unit: Any, device: str, only: list[str] | None, secret: str | None = None) -> Any:
        from ..secret import secret_fingerprint

        cases = "public" if secret is None else secret_fingerprint(secret)
        key = (str(course.root), unit.id, device, tuple(only or ()), cases, _fingerprint(course, unit.id))
        plan = self.plans.get(key)
        if plan is None:
            if course.release is not None:   # a student release: the public checks are data
                from ..release.load import load_release_plan

                plan = load_release_plan(course, unit, device=device, only=only)
            else:
                from ..checking import plan_unit

                plan = plan_unit(course, unit, device=device, only=only, secret=secret)
            self.plans = {k: v for k, v in self.plans.items() if k[:5] != key[:5]}  # an older plan of an edited unit
            self.plans[key] = plan
        return plan

    @staticmethod
    def _key(course: Any, device: str) -> tuple:
        limits = course.limits
        return (device, limits.memory_mb, limits.cpus, int(limits.submission_timeout))

    def _ready(self, course: Any, device: str) -> _Warm | None:
        """The warm zygote for this course and device (waiting for one that is starting); None: check cold."""
        starting = self._starting
        if starting is not None:
            starting.join()
        warm = self.warm
        if warm is not None and (warm.key != self._key(course, device) or not self._alive(warm)):
            self.stop()        # killed from outside, or started for other limits: this check runs cold
            return None
        return warm

    def _start(self, course: Any, device: str) -> None:
        """Start a zygote (on the warm-up thread); without a working sandbox the checks stay cold."""
        from ..api import _say_waiting

        try:
            from ..runner.sandbox import SandboxPolicy, ZygoteLauncher
            from ..runner.sandbox.child import wants_gpu

            policy = SandboxPolicy(memory_mb=course.limits.memory_mb, cpus=course.limits.cpus,
                                   cpu_seconds=int(course.limits.submission_timeout) + 10, gpu=wants_gpu(device))
            launcher = ZygoteLauncher(policy, 1, on_wait=_say_waiting)
        except Exception:  # noqa: BLE001  (no usable sandbox here: each check is a fresh process, as `grader check`)
            launcher = None
        with self._lock:
            if launcher is not None:
                self.warm = _Warm(self._key(course, device), launcher, time.monotonic())
                self.zygotes_started += 1
            self._starting = None

    @staticmethod
    def _alive(warm: _Warm) -> bool:
        proc = getattr(warm.launcher, "_proc", None)   # the zygote process (None: nothing to watch)
        return proc is None or proc.poll() is None


EVERY_CELL: set[str] = set()   # marks a check that runs every cell (the hidden checks), never selected


def _select(cells: list[tuple[str, str]], names: set[str]) -> tuple[Any, Any]:
    if names is EVERY_CELL:
        return Selection(list(range(len(cells))), [], []), from_cells(cells, HISTORY)
    selection = select_cells([source for source, _ in cells], names)
    return selection, from_cells([cells[i] for i in selection.kept], HISTORY)


def _session(course: Any, launcher: Any, submission: Any) -> Any:
    """A worker session for the submission's cells, with the course's budgets (as `checking.check_submission`)."""
    from ..runner.session import Budgets, Session

    cells = [{"source": c.source, "origin": c.origin} for c in submission.cells]
    return Session(launcher, cells, budgets=Budgets.from_limits(course.limits), slot=0)


def entries_as_text(course: Any, unit_id: str) -> dict[str, set[str]] | None:
    """Each exercise's `entry` names, read without running anything: a release's manifest, or the
    literal `Exercise(name=..., entry=(...))` calls of solutions/<unit>/checks.py. None when unreadable."""
    import ast
    import json

    try:
        if course.release is not None:
            manifest = json.loads((Path(course.root) / "checks" / unit_id / "manifest.json").read_text("utf-8"))
            return {str(e["name"]): {str(n) for n in e["entry"]} for e in manifest["exercises"]}
        tree = ast.parse((Path(course.root) / "solutions" / unit_id / "checks.py").read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return None
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Exercise":
            fields = {k.arg: k.value for k in node.keywords}
            try:
                name, entry = ast.literal_eval(fields["name"]), ast.literal_eval(fields["entry"])
            except (KeyError, ValueError, TypeError, SyntaxError):
                continue
            if isinstance(name, str) and isinstance(entry, (tuple, list)):
                found[name] = {str(n) for n in entry}
    return found


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
