"""Deciding whether two formulas are equal: random points first, a sympy proof second.

1. Both trees are evaluated with plain floats (``expr.evaluate``, no sympy) at
   ``POINTS`` points drawn from each variable's declared domain.  Agreement at
   every point where both are defined decides "equal"; a clear disagreement at
   any point decides "different".
2. When too few points are defined on both sides (say, ``log`` of a negative
   number everywhere), sympy tries to prove ``simplify(a - b) == 0``, in a
   separate process that is killed after ``timeout`` seconds, so a formula that
   makes sympy grind cannot stall a batch.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import random
from typing import Any, Callable, Sequence

from grader.quiz.expr import Grammar, Node, evaluate, parse, to_sympy

POINTS = 40
MIN_DEFINED = 8
RTOL = 1e-6
ATOL = 1e-9
DEFAULT_TIMEOUT = 3.0

EQUAL, DIFFERENT, UNDECIDED = "equal", "different", "undecided"

Domain = Sequence[tuple[str, float, float]]


def sample_points(variables: Domain, seed_text: str, n: int = POINTS) -> list[dict[str, float]]:
    """Deterministic random points in the declared domains."""
    rng = random.Random(int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big"))
    return [{name: rng.uniform(lo, hi) for name, lo, hi in variables} for _ in range(n)]


def close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """True when two finite floats agree within a relative and absolute tolerance."""
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def compare_at_points(a: Node, b: Node, variables: Domain, seed_text: str = "") -> str:
    """Compare two trees numerically; return EQUAL, DIFFERENT or UNDECIDED."""
    defined = 0
    for env in sample_points(variables, seed_text):
        x, y = evaluate(a, env), evaluate(b, env)
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        defined += 1
        if not close(x, y):
            return DIFFERENT
    return EQUAL if defined >= MIN_DEFINED else UNDECIDED


def _prove(a_text: str, b_text: str, names: tuple[str, ...]) -> str:
    import sympy

    grammar = Grammar(frozenset(names))
    diff = to_sympy(parse(a_text, grammar)) - to_sympy(parse(b_text, grammar))
    return EQUAL if sympy.simplify(diff) == 0 else DIFFERENT


def prove_equal(a_text: str, b_text: str, names: Sequence[str],
                timeout: float = DEFAULT_TIMEOUT) -> str:
    """Ask sympy (in a child process with a hard time limit) whether two formulas are equal."""
    finished, value = run_with_timeout(_prove, (a_text, b_text, tuple(names)), timeout)
    return value if finished and value in (EQUAL, DIFFERENT) else UNDECIDED


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # report, never raise, in the child
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_with_timeout(fn: Callable[..., Any], args: tuple[Any, ...],
                     timeout: float) -> tuple[bool, Any]:
    """Run ``fn(*args)`` in a child process; kill it after ``timeout`` seconds.

    Returns ``(True, value)`` when it finished, ``(False, reason)`` otherwise.
    ``fn`` must be a module-level function so that it also works with "spawn".
    """
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args), daemon=True)
    proc.start()
    child.close()
    try:
        if parent.poll(timeout):
            status, value = parent.recv()
            return (status == "ok", value)
        return (False, f"timed out after {timeout:g} s")
    except EOFError:
        return (False, "the checking process died")
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)


def equivalent(student: Node, student_text: str, key: Node, key_text: str, variables: Domain,
               *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Decide whether a student's formula equals the key: points first, then a sympy proof."""
    verdict = compare_at_points(student, key, variables, seed_text=key_text)
    if verdict != UNDECIDED:
        return verdict
    return prove_equal(student_text, key_text, [v[0] for v in variables], timeout)
