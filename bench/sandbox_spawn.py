"""Per-job spawn cost: fork + sandbox + trivial job + exit, zygote vs a fresh interpreter.

Usage: python bench/sandbox_spawn.py [N]   (prints min / median milliseconds per job)
The 'torch' rows add `import torch` + a tiny conv in the job: what a real worker pays.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.runner.sandbox import SandboxPolicy, SubprocessLauncher, ZygoteLauncher  # noqa: E402
from grader.runner.sandbox.selftest import run  # noqa: E402

PAYLOAD = "grader.runner.sandbox.selftest:serve"


def timed(launcher, case: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        answer, status, output = run(launcher, case, slot=0)
        times.append((time.perf_counter() - t0) * 1000)
        if status.exit_code != 0:
            raise SystemExit(f"{case} failed: {status} {output}")
    return times


def row(name: str, times: list[float]) -> None:
    print(f"{name:42} n={len(times):3}  min {min(times):8.1f} ms  median {statistics.median(times):8.1f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    policy = SandboxPolicy(cpu_seconds=30, memory_mb=2048)
    t0 = time.perf_counter()
    zygote = ZygoteLauncher(policy, workers=1, payload=PAYLOAD)
    print(f"zygote start (imports numpy+torch once): {(time.perf_counter() - t0) * 1000:.0f} ms")
    print(zygote.report())
    fresh = SubprocessLauncher(policy, payload=PAYLOAD)
    row("zygote: fork+sandbox+exit", timed(zygote, "ping", n))
    row("zygote: fork+sandbox+torch conv+exit", timed(zygote, "torch", n))
    row("fresh process: start+sandbox+exit", timed(fresh, "ping", max(3, n // 2)))
    row("fresh process: start+sandbox+import torch+conv", timed(fresh, "torch", 3))
    zygote.close()


if __name__ == "__main__":
    main()
