"""Check one student's code for a unit: run it in a worker, compare in this process.

The worker gets the inputs and returns its outputs as plain data. Expected
values, references and known mistakes are computed here and never sent.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .compare.tensors import compare_tree
from .config import Course, Unit
from .errors import GraderFailure
from .notebook.collect import Submission
from .report.safe import cell_notes
from .release.layout import version_notes
from .results import AT_GRADING, CheckResult, ExerciseResult, UnitResult
from .runner import wire
from .runner.sandbox_api import Launcher
from .runner.session import Budgets, Session
from .spec.loader import UnitSpec, load_unit_spec
from .spec.model import Case, Exercise
from .static import Program, analyse, find_shortcuts, forbids, shortcut_message


MAX_STALLS = 2  # after this many timeouts or crashes, the exercise's other checks are skipped


@dataclass
class PlannedCase:
    exercise: Exercise
    case: Case
    seed: int
    inputs: Any  # as the worker will see them (after a wire round trip)
    expected: Any
    # each catalogued mistake's output on this case, computed on the first failure that needs it
    mistake_outputs: dict[int, Any] = field(default_factory=dict, repr=False)
    hidden: bool = False  # a hidden case: its feedback never shows an expected value or its inputs


@dataclass(frozen=True)
class AtGrading:
    """A check a student release lists but cannot run (its data or code stays with the instructor)."""

    name: str
    weight: float
    reason: str


@dataclass
class UnitPlan:
    """Everything the trusted side computes before seeing any student: reusable across students."""

    spec: UnitSpec | None   # None for a plan from a student release's data (grader.release.load)
    device: str
    cases: dict[str, list[PlannedCase]]
    hidden: bool = False  # seeded from the course secret: feedback never shows an expected value
    at_grading: dict[str, list[AtGrading]] = field(default_factory=dict)  # exercise -> checks not run here


# torch's random generator is global: reference and mistake runs seed it, so
# they are serialised when several students are checked from threads.
_REFERENCE_LOCK = threading.RLock()


def plan_unit(course: Course, unit: Unit, *, device: str = "cpu", only: list[str] | None = None,
              secret: str | None = None) -> UnitPlan:
    """Load the unit's spec and compute every case's inputs and expected output once.

    Without a secret these are the public cases (`grader check`); with the course
    secret they are the hidden cases that decide the grade (`grader grade`).
    """
    from .api import resolve_device

    device = resolve_device(device)
    spec = load_unit_spec(course, unit)
    return UnitPlan(spec, device, plan_cases(course, unit, spec, device, only, secret=secret),
                    hidden=secret is not None)


HIDDEN_SEED_TAG = b"dl-grader hidden case v1"


def case_seed(unit: str, exercise: str, index: int, secret: str | None = None) -> int:
    """A stable seed for one case, independent of Python's hash randomisation.

    Index -1 seeds the exercise's case list, 0, 1, ... each case's run. Without a
    secret: the public seed, sha256 of "unit/exercise/index". With the course
    secret: sha256 over a domain tag, the secret, unit, exercise and index, each
    length-prefixed, so nobody without the secret can compute a hidden seed.
    """
    if secret is None:
        digest = hashlib.sha256(f"{unit}/{exercise}/{index}".encode()).digest()
    else:
        h = hashlib.sha256(HIDDEN_SEED_TAG)
        for part in (secret, unit, exercise, str(index)):
            data = part.encode("utf-8")
            h.update(len(data).to_bytes(4, "little") + data)
        digest = h.digest()
    return int.from_bytes(digest[:4], "little")


def check_submission(course: Course, unit: Unit, submission: Submission, *, launcher: Launcher,
                     device: str = "cpu", only: list[str] | None = None, slot: int = 0,
                     plan: UnitPlan | None = None) -> UnitResult:
    """Run every check of the unit (or of the exercises in `only`) on a submission.

    `plan` (from `plan_unit`) skips computing the expected outputs again, for
    batches where every student gets the same cases; it overrides device and only.
    """
    cells = [{"source": c.source, "origin": c.origin} for c in submission.cells]
    session = Session(launcher, cells, budgets=Budgets.from_limits(course.limits), slot=slot)
    return run_checks(course, unit, submission, session, device=device, only=only, plan=plan)


def run_checks(course: Course, unit: Unit, submission: Submission, session: Any, *,
               device: str = "cpu", only: list[str] | None = None, plan: UnitPlan | None = None) -> UnitResult:
    """Plan the cases (unless given), run them through a started-or-not session, and score them."""
    try:
        session.start()  # the worker imports torch while we plan
        if plan is None and course.release is not None:  # a student release: the public checks are data
            from .release.load import load_release_plan

            plan = load_release_plan(course, unit, device=device, only=only)
        if plan is None:
            with _REFERENCE_LOCK:
                plan = plan_unit(course, unit, device=device, only=only)
        spec, device = plan.spec, plan.device
        result = UnitResult(unit=unit.id, device=device, notes=list(submission.problems))
        result.notes.extend(version_notes(course.version, submission.versions))
        program = analyse(submission.cells)  # forbidden shortcuts are judged here, from the source
        if not submission.cells:
            result.notes.append("no code found: put your notebooks or .py files in the unit's folder")
        session.load()
        result.notes.extend(cell_notes([c.origin for c in submission.cells], session.cell_reports))
        for name, cases in plan.cases.items():
            config = unit.exercise(name)
            result.exercises[name] = _run_exercise(course, spec, cases, config.points, session, device, program)
            result.exercises[name].name = name
            entry = cases[0].exercise.entry if cases else ()
            result.exercises[name].graded_from = submission.graded_from.get(entry[0]) if entry else None
            result.exercises[name].checks.extend(CheckResult(c.name, False, f"{AT_GRADING}: {c.reason}", c.weight,
                                                             at_grading=True) for c in plan.at_grading.get(name, []))
        explain_dependencies(result, plan, submission)
        return result
    finally:
        session.close()


def explain_dependencies(result: UnitResult, plan: UnitPlan, submission: Submission) -> None:
    """A failing exercise whose code calls another failing exercise's code (`Exercise.uses`) says so."""
    entries = {name: cases[0].exercise.entry for name, cases in plan.cases.items() if cases}
    for name, cases in plan.cases.items():
        ex = result.exercises.get(name)
        if ex is None or ex.passed or not cases or ex.error:
            continue
        for used in cases[0].exercise.uses:
            dep = result.exercises.get(used)
            if dep is None or dep.passed or used not in entries:
                continue
            callee = entries[used][0]
            if calls(submission, entries[name][0], callee):
                ex.notes.append(f"{name} may fail only because `{callee}`, which it uses, fails its checks; "
                                f"fix {used} first")


def calls(submission: Submission, caller: str, callee: str) -> bool:
    """Does the last definition of `caller` in the submission reach `callee`, directly or through
    other top-level definitions of the submission (SmallResNet -> resnet_stage -> ResidualBlock)?"""
    import ast

    refers: dict[str, set[str]] = {}
    for cell in submission.cells:
        try:
            tree = ast.parse(cell.source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                refers[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    seen, todo = {caller}, [caller]
    while todo:
        for name in refers.get(todo.pop(), ()):
            if name == callee:
                return True
            if name in refers and name not in seen:
                seen.add(name)
                todo.append(name)
    return False


def plan_cases(course: Course, unit: Unit, spec: UnitSpec, device: str,
               only: list[str] | None, *, secret: str | None = None) -> dict[str, list[PlannedCase]]:
    """Build every case with its inputs and expected output (trusted side); public or, with a secret, hidden."""
    from . import drivers

    names = only or [e.name for e in unit.exercises]
    plan: dict[str, list[PlannedCase]] = {}
    for name in names:
        exercise = spec.exercises[name]
        rng = np.random.default_rng(case_seed(unit.id, name, -1, secret))
        # a hidden plan's case whose inputs are those of a public case (a fixed "raises ValueError") hides nothing
        public = [] if secret is None else exercise.cases(np.random.default_rng(case_seed(unit.id, name, -1)))
        public_inputs = {_inputs_digest(c) for c in public}
        public_names = {c.name for c in public}
        planned = []
        for index, case in enumerate(exercise.cases(rng)):
            if secret is not None and case.public_only:
                continue   # a fixed example: its answer is known in advance, so it never decides a grade
            hidden = secret is not None and _inputs_digest(case) not in public_inputs
            if hidden and case.name not in public_names:   # a name drawn from the seed may show the inputs
                case = replace(case, name=f"hidden check {len(planned) + 1}")
            seed = case_seed(unit.id, name, index, secret)
            inputs = wire.decode(wire.encode(case.inputs))
            case = _with_plain_private(case, name)
            ctx = drivers.DriverContext(device=device, seed=seed)
            try:
                expected = _reference_output(case, inputs, spec.reference, ctx)
            except Exception as exc:  # noqa: BLE001
                raise GraderFailure(f"the reference for {name} failed on check '{case.name}': {exc!r}") from exc
            planned.append(PlannedCase(exercise, case, seed, inputs, expected, hidden=hidden))
        plan[name] = planned
    return plan


def _inputs_digest(case: Case) -> bytes:
    """What a case is run on, the worker's inputs and the trusted private part, as one digest."""
    return hashlib.sha256(wire.encode(case.inputs) + wire.encode(case.private)).digest()


def _with_plain_private(case: Case, exercise: str) -> Case:
    """The case with its private part as plain data, like the inputs after their wire round trip.

    The private part (a held-out test split, the grader's own models) is for
    oracles and measurements; the worker's request is built from the inputs alone.
    """
    if not case.private:
        return case
    clash = sorted(set(case.private) & set(case.inputs))
    if clash:
        raise GraderFailure(f"check '{case.name}' of {exercise} names {', '.join(clash)} in both inputs and private")
    return replace(case, private=wire.decode(wire.encode(case.private)))


def _reference_output(case: Case, inputs: Any, namespace: dict, ctx: Any) -> Any:
    from . import drivers

    with _REFERENCE_LOCK:
        ctx.seed_torch()
        if case.oracle is not None:
            return wire.decode(wire.encode(drivers.to_plain(case.oracle(case.trusted_inputs(inputs), ctx))))
        out = wire.decode(wire.encode(drivers.to_plain(drivers.get(case.driver)(namespace, inputs, ctx))))
        return _measured(case, out, inputs, ctx)


def _measured(case: Case, raw: Any, inputs: Any, ctx: Any) -> Any:
    """Apply the case's trusted measurement to a raw driver output (plain data)."""
    from . import drivers

    if case.measure is None:
        return raw
    return wire.decode(wire.encode(drivers.to_plain(case.measure(raw, case.trusted_inputs(inputs), ctx))))


def _run_exercise(course: Course, spec: UnitSpec, cases: list[PlannedCase], points: float,
                  session: Any, device: str, program: Program | None = None) -> ExerciseResult:
    exercise = cases[0].exercise if cases else None
    result = ExerciseResult(name=exercise.name if exercise else "", max_score=points)
    if exercise is None:
        return result
    findings = find_shortcuts(program, exercise.entry, exercise.forbidden) if program is not None else []
    if findings:  # decided from the source, in this process: nothing the worker reports can undo it
        result.error = shortcut_message(findings, exercise.forbidden_hint)
        result.checks = [CheckResult(p.case.name, False, result.error, p.case.weight, stage="shortcut") for p in cases]
        return result
    missing = [n for n in exercise.entry if n not in session.names]
    if missing:
        result.error = not_defined_message(missing, session)
        result.checks = [CheckResult(p.case.name, False, f"not run: {result.error}", p.case.weight, stage="defined")
                         for p in cases]
        return result
    stalls = 0
    budget = max([course.limits.exercise_timeout] + [p.case.timeout or 0.0 for p in cases])
    ends = time.monotonic() + budget   # the exercise's own budget, on the trusted clock
    for planned in cases:
        left = ends - time.monotonic()
        if stalls >= MAX_STALLS or left <= 0:
            why = (f"{exercise.name} timed out or crashed on {stalls} earlier checks" if stalls >= MAX_STALLS
                   else f"the checks of {exercise.name} took more than {budget:g} s together")
            result.checks.append(CheckResult(planned.case.name, False, f"not run: {why}", planned.case.weight,
                                             stage="not run"))
            continue
        check, stalled = _run_case(course, spec, planned, session, device, left)
        stalls += stalled
        result.checks.append(check)
    return result


def not_defined_message(missing: list[str], session: Any) -> str:
    """'`f` is not defined ...', naming the file or cell that should have defined it and failed to run."""
    from .report.safe import one_line

    which = ", ".join(f"`{n}`" for n in missing)
    failed = [(r.origin, r.error) for r in getattr(session, "cell_reports", []) if r.error]
    sources = {c.get("origin"): c.get("source", "") for c in getattr(session, "cells", [])}
    names = "|".join(map(re.escape, missing))
    pattern = re.compile(rf"^\s*(?:async\s+def|def|class)\s+(?:{names})\b|^(?:{names})\s*[:=]", re.MULTILINE)
    own = [(o, e) for o, e in failed if pattern.search(sources.get(o) or "")]
    broken = own or [(o, e) for o, e in failed if e.startswith(("SyntaxError", "IndentationError", "TabError"))]
    if not broken:
        return f"{which} is not defined in your notebooks or .py files"
    origin, error = broken[0]
    more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
    what = ", which defines it," if own else ""
    return f"{which} is not defined: {origin}{more}{what} failed to run: {one_line(error, 200)}"


def _run_case(course: Course, spec: UnitSpec, planned: PlannedCase, session: Any,
              device: str, budget: float = float("inf")) -> tuple[CheckResult, bool]:
    """Run one case within at most `budget` seconds; also say whether it timed out or crashed the worker."""
    check = _verdict(course, spec, planned, session, device, budget)
    return check, check.stalled


def _verdict(course: Course, spec: UnitSpec, planned: PlannedCase, session: Any, device: str,
             budget: float = float("inf")) -> CheckResult:
    case, exercise = planned.case, planned.exercise
    timeout = min(case.timeout or course.limits.check_timeout, budget)
    run = session.run({"case": case.name, "driver": case.driver, "inputs": planned.inputs,
                       "forbidden": list(exercise.forbidden), "device": device, "seed": planned.seed}, timeout)

    def fail(message: str, hint: str | None = None, stage: str = "values") -> CheckResult:
        text = f"{message}. Hint: {hint}" if hint else message
        return CheckResult(case.name, False, text, case.weight, hint, stage=stage)

    # the worker's watch is a second signal: it can only cost points, and only for names this exercise forbids
    reported = [n for n in run.forbidden_used if isinstance(n, str) and forbids(n, exercise.forbidden)]
    if reported:
        used = ", ".join(f"`{n}`" for n in reported)
        extra = f"; {exercise.forbidden_hint}" if exercise.forbidden_hint else ""
        return fail(f"uses {used}, which this exercise does not allow{extra}", stage="shortcut")
    if run.error is not None:
        kind = run.error.get("kind")   # the worker names it: only the session's own kinds become a stage
        check = fail(_error_message(run.error), stage={"timeout": "timeout", "crashed": "crashed", "not_run": "not run"}.get(kind, "raised"))
        check.stalled = run.error.get("kind") in ("timeout", "crashed")
        return check
    actual = run.output
    if case.measure is not None:
        from . import drivers
        from .drivers.base import CheckProblem

        try:
            with _REFERENCE_LOCK:
                actual = _measured(case, actual, planned.inputs, drivers.DriverContext(device=device, seed=planned.seed))
        except CheckProblem as exc:
            return fail(str(exc), stage="measure")
        except Exception as exc:  # noqa: BLE001  (malformed output from the student's side)
            return fail(f"the result could not be measured: {type(exc).__name__}: {exc}", stage="measure")
    tolerance = _tolerance(course, case, device)
    # a hidden case's feedback never shows an expected value (grader.compare.tensors, reveal)
    verdict = compare_tree(actual, planned.expected, tolerance, names=exercise.outputs, reveal=not planned.hidden)
    if verdict.passed:
        return CheckResult(case.name, True, "passed", case.weight)
    return fail(verdict.message, _recognise(spec, planned, actual, tolerance, device), stage=verdict.stage)


def _error_message(error: dict) -> str:
    kind, message = error.get("kind"), str(error.get("message", ""))
    if kind == "raised":
        return f"raised {message}"
    return message


def _tolerance(course: Course, case: Case, device: str = "cpu"):  # noqa: ANN202
    def tolerance(dtype: str) -> tuple[float, float]:
        default = course.tolerance(dtype if dtype in course.tolerances else "float64", device)
        rtol = default.rtol if case.rtol is None else case.rtol
        atol = default.atol if case.atol is None else case.atol
        return rtol, atol

    return tolerance


def _recognise(spec: UnitSpec | None, planned: PlannedCase, actual: Any, tolerance: Any, device: str) -> str | None:
    """The hint(s) of the known mistakes that the student's failing output shows (see grader.hints)."""
    from .hints import recognise

    return recognise(planned.exercise.mistakes, lambda index: _mistake_output(spec, planned, index, device),
                     actual, planned.expected, planned.case.trusted_inputs(planned.inputs), tolerance)


def _mistake_output(spec: UnitSpec | None, planned: PlannedCase, index: int, device: str) -> Any:
    """A catalogued mistake's output on this case, run through the case's driver here (once per plan)."""
    from . import drivers
    from .hints import NO_OUTPUT

    with _REFERENCE_LOCK:
        if index not in planned.mistake_outputs and spec is None:  # a release's plan: its outputs came with it
            return NO_OUTPUT
        if index not in planned.mistake_outputs:
            mistake = planned.exercise.mistakes[index]
            namespace = {**spec.reference, **mistake.replace}
            ctx = drivers.DriverContext(device=device, seed=planned.seed)
            try:
                ctx.seed_torch()
                out = drivers.get(planned.case.driver)(namespace, planned.inputs, ctx)
                wrong = _measured(planned.case, wire.decode(wire.encode(drivers.to_plain(out))), planned.inputs, ctx)
            except Exception:  # noqa: BLE001  (a mistake may well crash on some inputs)
                wrong = NO_OUTPUT
            planned.mistake_outputs[index] = wrong
        return planned.mistake_outputs[index]
