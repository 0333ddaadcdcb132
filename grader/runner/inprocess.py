"""Run cases in this process, for tests of checks and hints only.

This has no isolation at all: it exists so that the test suite can try a
catalogue of known-wrong implementations quickly. Never use it for grading.
"""
from __future__ import annotations

import time
from typing import Any

from .session import RunResult
from .worker import describe


class InProcessSession:
    """Same interface as Session.run/load/names, over a namespace built here."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.names = sorted(k for k in namespace if not k.startswith("__"))
        self.cell_reports: list = []

    def start(self) -> None:
        """Nothing to start."""

    def load(self) -> None:
        """Nothing to load."""

    def close(self) -> None:
        """Nothing to stop."""

    def run(self, request: dict, timeout: float) -> RunResult:
        from .. import drivers
        from ..drivers.base import CheckProblem
        from . import wire
        from .forbid import ForbiddenWatch

        ctx = drivers.DriverContext(device=request.get("device", "cpu"), seed=int(request.get("seed", 0)))
        ctx.seed_torch()
        watch = ForbiddenWatch(request.get("forbidden", []))
        started = time.perf_counter()
        result = RunResult()
        try:
            with watch:
                out = drivers.get(request["driver"])(self.namespace, request["inputs"], ctx)
            result.output = wire.decode(wire.encode(drivers.to_plain(out)))
        except CheckProblem as exc:
            result.error = {"kind": exc.kind, "message": str(exc)}
        except Exception as exc:  # noqa: BLE001
            result.error = {"kind": "raised", "message": describe(exc)}
        result.forbidden_used = list(watch.used)
        result.seconds = time.perf_counter() - started
        return result
