"""The worker: runs a student's cells, then the checks, and reports plain data.

It reads requests from one pipe and writes events to another (see wire.py);
the student's own output goes to stdout/stderr, which the launcher points at
a separate, capped pipe. Nothing here knows an expected value.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import linecache
import os
import sys
import time
import traceback
from typing import Any

from . import wire

_IN_WORKER = False
_ORIGINS: set[str] = set()  # "<origin>" file names of the student's cells, for tracebacks


def serve(in_fd: int, out_fd: int) -> None:
    """Answer requests until the grader closes the pipe or says exit."""
    global _IN_WORKER
    _IN_WORKER = True
    os.environ["GRADER_WORKER"] = "1"
    reader = wire.FrameReader(in_fd)
    namespace: dict[str, Any] = {}
    while True:
        try:
            frame = reader.read(None)
        except EOFError:
            return
        request = wire.decode(frame)
        op = request.get("op")
        if op == "load":
            namespace = load_cells(request["cells"], {int(i): str(r) for i, r in request.get("skip", [])}, out_fd)
        elif op == "run":
            wire.write_frame(out_fd, run_case(namespace, request))
        elif op == "exit":
            return


def load_cells(cells: list[dict], skip: dict[int, str], out_fd: int) -> dict[str, Any]:
    """Execute each cell in one namespace; a failing cell does not stop the rest."""
    import torch  # noqa: F401  (imported before student code so the grader's copy is the original)

    from .. import drivers

    drivers.get("call")  # load every driver before the student can patch anything
    builtins.input = _no_input
    quiet_plots()
    sys.meta_path.insert(0, _SubmissionModules(cells))
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    report = []
    for index, cell in enumerate(cells):
        origin = cell["origin"]
        if index in skip:
            report.append({"index": index, "origin": origin, "error": f"not run: {skip[index]}"})
            continue
        wire.write_frame(out_fd, wire.encode({"event": "cell", "index": index}))
        filename = f"<{origin}>"
        _ORIGINS.add(filename)
        linecache.cache[filename] = (len(cell["source"]), None, cell["source"].splitlines(True), filename)
        error = None
        try:
            code = compile(cell["source"], filename, "exec")
            exec(code, namespace)  # noqa: S102  (this process is the sandbox)
        except ModuleNotFoundError as exc:
            error = missing_module(exc, cell["source"], filename, namespace)
        except BaseException as exc:  # noqa: BLE001  (student code may raise anything)
            error = describe(exc)
        _flush()
        report.append({"index": index, "origin": origin, "error": error})
    names = sorted(k for k in namespace if not k.startswith("__"))[:2000]
    wire.write_frame(out_fd, wire.encode({"event": "loaded", "cells": report, "names": names}))
    return namespace


def run_case(namespace: dict[str, Any], request: dict) -> bytes:
    """Run one case through its driver and encode the outcome."""
    from .. import drivers
    from ..drivers.base import CheckProblem
    from .forbid import ForbiddenWatch

    ctx = drivers.DriverContext(device=request.get("device", "cpu"), seed=int(request.get("seed", 0)))
    ctx.seed_torch()
    watch = ForbiddenWatch(request.get("forbidden", []))
    started = time.perf_counter()
    result: dict[str, Any] = {"event": "result", "case": request["case"], "output": None, "error": None}
    try:
        driver = drivers.get(request["driver"])
        # with nothing to watch, no TorchFunctionMode: it costs every torch call (+50% on a training loop)
        with watch if watch.targets else contextlib.nullcontext():
            output = driver(namespace, request["inputs"], ctx)
        result["output"] = drivers.to_plain(output)
    except CheckProblem as exc:
        result["error"] = {"kind": exc.kind, "message": str(exc)[:2000]}
    except BaseException as exc:  # noqa: BLE001
        result["error"] = {"kind": "raised", "message": describe(exc)}
    result["forbidden_used"] = list(watch.used)
    result["seconds"] = time.perf_counter() - started
    _flush()
    try:
        return wire.encode(result)
    except wire.WireError as exc:
        result["output"] = None
        result["error"] = {"kind": "type", "message": f"the result cannot be graded: {exc}"}
        return wire.encode(result)


def quiet_plots() -> None:
    """Plots draw off screen: matplotlib's Agg backend, and plt.show() says nothing about it."""
    import warnings

    os.environ["MPLBACKEND"] = "Agg"
    warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")


def missing_module(exc: ModuleNotFoundError, source: str, filename: str, namespace: dict[str, Any]) -> str:
    """A cell stopped at an import of a module that is not installed here.

    When that import is a line of the cell itself, the rest of the cell still runs, statement by
    statement, skipping each import line of a missing module (a first cell importing matplotlib,
    then torch, must not leave torch undefined). The note names every module that is missing, and
    the error that stopped the rest, if any.
    """
    missing = [exc.name or "?"]
    line = max((f.lineno or 0 for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename), default=0)
    try:
        body = ast.parse(source, filename).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        body = []
    stopped = [n for n in body if n.lineno <= line <= (n.end_lineno or n.lineno)]
    later = ""
    if stopped and isinstance(stopped[0], (ast.Import, ast.ImportFrom)):
        for node in body[body.index(stopped[0]) + 1:]:
            try:
                exec(compile(ast.Module([node], type_ignores=[]), filename, "exec"), namespace)  # noqa: S102
            except ModuleNotFoundError as again:
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    later = f"; then {describe(again)}"
                    break
                missing.append(again.name or "?")
            except BaseException as other:  # noqa: BLE001  (student code may raise anything)
                later = f"; then {describe(other)}"
                break
    unique = list(dict.fromkeys(missing))
    names = ", ".join(f"'{n}'" for n in unique)
    what = f"module {names} is" if len(unique) == 1 else f"modules {names} are"
    where = f" ({filename[1:-1]}, line {line})" if line else ""
    skipped = f"; the lines importing {'it' if len(unique) == 1 else 'them'} were skipped" if stopped and not later and len(body) > 1 else ""
    return f"ModuleNotFoundError: {what} not installed where your work is graded{where}{skipped}{later}"


def describe(exc: BaseException) -> str:
    """'ValueError: message (losses.ipynb, cell 4, line 3)' for the innermost student frame."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:  # noqa: BLE001  (a hostile __str__)
        text = type(exc).__name__
    text = text if len(text) <= 500 else text[:500] + "..."
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in _ORIGINS:
            where = f"{frame.filename[1:-1]}, line {frame.lineno}"
    return f"{text} ({where})" if where else text


class _SubmissionModules:
    """Lets a notebook `import helpers` when helpers.py is part of the submission.

    The worker cannot read the submission's folder; the sources arrive with the cells.
    """

    def __init__(self, cells: list[dict]) -> None:
        self.sources = {}
        for cell in cells:
            origin = cell["origin"]
            if origin.endswith(".py") and "/" not in origin and origin[:-3].isidentifier():
                self.sources[origin[:-3]] = (origin, cell["source"])

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        import importlib.util

        if name not in self.sources:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        origin, source = self.sources[module.__name__]
        filename = f"<{origin}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102


def _no_input(prompt: str = "") -> str:
    raise EOFError("input() is not available while grading; remove the call or give the value directly")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


def in_worker() -> bool:
    """True inside a grading worker, where notebook check() calls do nothing."""
    return _IN_WORKER


def main() -> None:
    """Entry point for a fresh worker process: fds come from the command line."""
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    serve(in_fd, out_fd)
    _flush()
    os._exit(0)


if __name__ == "__main__":
    main()
