"""--device cuda on a cluster: plan on a GPU worker, so references and oracles run where students' code runs."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from ..config import Course, Unit
from .plugin import CourseCode


def plan_task(course: Course, unit: Unit, secret: str | None, code: CourseCode) -> bytes:
    """On a GPU worker: import the unit's solutions from `code`, plan on CUDA, pickle (tensors stay CUDA tensors)."""
    from ..checking import plan_unit
    from .plugin import _IMPORT_LOCK, dumps_plan

    with _IMPORT_LOCK:
        folder, _spec = code.install(course, unit)
    try:
        return dumps_plan(plan_unit(dataclasses.replace(course, root=Path(folder)), unit, device="cuda",
                                    secret=secret))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def plan_on_gpu(client: Any, course: Course, unit: Unit, secret: str | None) -> bytes:
    """Run plan_task on one worker offering the GPU resource; the secret goes to that worker only."""
    future = client.submit(plan_task, course, unit, secret, CourseCode.read(course, unit), resources={"GPU": 1},
                           pure=False)
    try:
        return future.result()
    finally:
        future.release()
