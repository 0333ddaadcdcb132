"""--device cuda on a cluster: plan on a GPU worker, so references and oracles run where students' code runs."""
from __future__ import annotations

from typing import Any

from ..config import Course, Unit
from ..errors import GraderFailure


def plan_task(course: Course, unit: Unit, secret: str | None) -> bytes:
    """On a GPU worker: the unit's plan on CUDA, pickled (its tensors stay CUDA tensors)."""
    from ..checking import plan_unit
    from .plugin import dumps_plan

    if not (course.solutions_dir / unit.id / "checks.py").is_file():
        raise GraderFailure(f"this GPU worker does not see the course at {course.root}",
                            "--device cuda plans on a GPU worker: mount the course folder at the same path there")
    return dumps_plan(plan_unit(course, unit, device="cuda", secret=secret))


def plan_on_gpu(client: Any, course: Course, unit: Unit, secret: str | None) -> bytes:
    """Run plan_task on one worker offering the GPU resource; the secret goes to that worker only."""
    future = client.submit(plan_task, course, unit, secret, resources={"GPU": 1}, pure=False)
    try:
        return future.result()
    finally:
        future.release()
