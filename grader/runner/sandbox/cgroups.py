"""Per-job cgroups (root only): memory and pids limits, OOM detection, kill-the-whole-tree.

Works on the three layouts seen in practice: hybrid (v1 memory+pids, v2 only for
`cgroup.kill`, as on the course VMs), pure v1, and pure v2 (memory.max/pids.max when the
controllers can be enabled below our own cgroup). Job cgroups are created below the
zygote's own cgroup, never at the root of a hierarchy.
"""
from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass

PREFIX = "grader-sbx-"
CPU_PERIOD_US = 100_000


def read_cpu_seconds(usage_file: str | None) -> float | None:
    """Seconds of CPU from a cgroup's cpuacct.usage (ns) or cpu.stat (usage_usec); None if unreadable."""
    if not usage_file:
        return None
    try:
        with open(usage_file) as f:
            text = f.read()
    except OSError:
        return None
    if usage_file.endswith("cpuacct.usage"):
        return int(text.strip()) / 1e9
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    return None


@dataclass(frozen=True)
class CgroupSupport:
    """Where job cgroups can be created; None for what this machine lacks."""

    memory_v1: str | None = None     # parent dir in the v1 memory hierarchy
    pids_v1: str | None = None       # parent dir in the v1 pids hierarchy
    cpu_v1: str | None = None        # parent dir in the v1 cpu hierarchy (CFS quota)
    cpuacct_v1: str | None = None    # parent dir in the v1 cpuacct hierarchy (CPU time used)
    unified: str | None = None       # parent dir in cgroup2 (for cgroup.kill, maybe controllers)
    v2_kill: bool = False            # cgroup.kill exists (kernel >= 5.14)
    v2_memory: bool = False          # memory/pids/cpu controllers usable in cgroup2
    v2_pids: bool = False
    v2_cpu: bool = False

    @property
    def memory(self) -> bool:
        """A memory limit can be enforced."""
        return bool(self.memory_v1 or self.v2_memory)

    @property
    def pids(self) -> bool:
        """A process-count limit can be enforced."""
        return bool(self.pids_v1 or self.v2_pids)

    @property
    def cpu(self) -> bool:
        """A CPU quota for a job's whole tree can be enforced."""
        return bool(self.cpu_v1 or self.v2_cpu)

    @property
    def cpu_usage(self) -> bool:
        """The CPU time of a job's whole tree can be read."""
        return bool(self.cpuacct_v1 or self.unified)

    @property
    def any(self) -> bool:
        """Some hierarchy can hold job cgroups."""
        return bool(self.memory_v1 or self.pids_v1 or self.unified)

    def describe(self) -> str:
        """Short form for the report line, e.g. 'v1+v2kill'."""
        parts = []
        if self.memory_v1 or self.pids_v1:
            parts.append("v1")
        if self.v2_memory or self.v2_pids:
            parts.append("v2")
        if self.cpu:
            parts.append("cpu")
        if self.v2_kill:
            parts.append("v2kill")
        return "+".join(parts) if parts else "none"


def _mounts() -> list[tuple[str, str, set[str]]]:
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            _dev, mnt, fstype, opts, *_ = line.split()
            if fstype in ("cgroup", "cgroup2"):
                out.append((mnt.replace("\\040", " "), fstype, set(opts.split(","))))
    return out


def _own_paths() -> dict[str, str]:
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            for c in (controllers.split(",") if controllers else [""]):
                own[c] = path
    return own


def _writable_dir(path: str) -> bool:
    probe = os.path.join(path, f"{PREFIX}probe-{os.getpid()}")
    try:
        os.mkdir(probe)
    except OSError:
        return False
    os.rmdir(probe)
    return True


def probe() -> CgroupSupport:
    """Find writable parents for job cgroups (needs root; returns all-None otherwise)."""
    if os.geteuid() != 0:
        return CgroupSupport()
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError:
        return CgroupSupport()
    found: dict = {}
    for mnt, fstype, opts in mounts:
        if fstype == "cgroup":
            for ctrl in ("memory", "pids", "cpu", "cpuacct"):
                if ctrl in opts and ctrl in own:
                    parent = os.path.join(mnt, own[ctrl].lstrip("/"))
                    if _writable_dir(parent):
                        found[f"{ctrl}_v1"] = parent
        elif fstype == "cgroup2" and "" in own:
            parent = os.path.join(mnt, own[""].lstrip("/"))
            if _writable_dir(parent):
                found["unified"] = parent
                found.update(_probe_v2(parent))
    return CgroupSupport(**found)


def _probe_v2(parent: str) -> dict:
    probe_dir = os.path.join(parent, f"{PREFIX}probe-{os.getpid()}")
    result = {}
    try:
        os.mkdir(probe_dir)
        result["v2_kill"] = os.path.exists(os.path.join(probe_dir, "cgroup.kill"))
    except OSError:
        return result
    finally:
        try:
            os.rmdir(probe_dir)
        except OSError:
            pass
    try:
        with open(os.path.join(parent, "cgroup.controllers")) as f:
            available = set(f.read().split())
    except OSError:
        available = set()
    for ctrl in ("memory", "pids", "cpu"):
        if ctrl not in available:
            continue
        try:
            with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                f.write(f"+{ctrl}")
            result[f"v2_{ctrl}"] = True
        except OSError:
            pass  # e.g. EBUSY: our own cgroup holds processes ("no internal processes" rule)
    return result


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


class JobCgroup:
    """One job's cgroups in every usable hierarchy, created by the (root) zygote."""

    def __init__(self, support: CgroupSupport, name: str, *, memory_bytes: int, pids_max: int,
                 cpus: float | None = None) -> None:
        """Create the directories and write the limits; raises OSError if that fails.

        cpus: the CPU share of the job's whole tree (a CFS quota), None for no quota.
        """
        self.support = support
        self.dirs: list[str] = []
        self.memory_dir: str | None = None
        self.memory_file = ""
        self.kill_dir: str | None = None
        self.usage_file: str | None = None   # cpuacct.usage (ns) or cpu.stat (usage_usec)
        quota = None if cpus is None else max(1000, int(cpus * CPU_PERIOD_US))
        try:
            if support.memory_v1:
                d = self._mkdir(support.memory_v1, name)
                _write(os.path.join(d, "memory.limit_in_bytes"), str(memory_bytes))
                self.memory_dir, self.memory_file = d, "memory.oom_control"
            if support.pids_v1:
                d = self._mkdir(support.pids_v1, name)
                _write(os.path.join(d, "pids.max"), str(pids_max))
            if support.cpu_v1:
                d = self._mkdir(support.cpu_v1, name)
                if quota is not None:
                    _write(os.path.join(d, "cpu.cfs_period_us"), str(CPU_PERIOD_US))
                    _write(os.path.join(d, "cpu.cfs_quota_us"), str(quota))
                if support.cpuacct_v1 == support.cpu_v1:   # mounted together as cpu,cpuacct
                    self.usage_file = os.path.join(d, "cpuacct.usage")
            if support.cpuacct_v1 and support.cpuacct_v1 != support.cpu_v1:
                d = self._mkdir(support.cpuacct_v1, name)
                self.usage_file = os.path.join(d, "cpuacct.usage")
            if support.unified:
                d = self._mkdir(support.unified, name)
                if support.v2_cpu and not support.cpu_v1 and quota is not None:
                    _write(os.path.join(d, "cpu.max"), f"{quota} {CPU_PERIOD_US}")
                if self.usage_file is None and os.path.exists(os.path.join(d, "cpu.stat")):
                    self.usage_file = os.path.join(d, "cpu.stat")
                if support.v2_memory and not support.memory_v1:
                    _write(os.path.join(d, "memory.max"), str(memory_bytes))
                    if os.path.exists(os.path.join(d, "memory.swap.max")):
                        _write(os.path.join(d, "memory.swap.max"), "0")
                    self.memory_dir, self.memory_file = d, "memory.events"
                if support.v2_pids and not support.pids_v1:
                    _write(os.path.join(d, "pids.max"), str(pids_max))
                if support.v2_kill:
                    self.kill_dir = d
        except OSError:
            self.remove()
            raise

    def _mkdir(self, parent: str, name: str) -> str:
        d = os.path.join(parent, name)
        os.mkdir(d)
        self.dirs.append(d)
        return d

    def join(self) -> None:
        """Move the calling process into every job cgroup (called in the child, as root)."""
        for d in self.dirs:
            _write(os.path.join(d, "cgroup.procs"), "0")

    def pids(self) -> set[int]:
        """Every process still in the job's cgroups."""
        found: set[int] = set()
        for d in self.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    found.update(int(x) for x in f.read().split())
            except OSError:
                pass
        return found

    def kill(self) -> None:
        """SIGKILL everything in the job: cgroup.kill when there is one, else a kill loop."""
        if self.kill_dir:
            try:
                _write(os.path.join(self.kill_dir, "cgroup.kill"), "1")
                return
            except OSError:
                pass
        for _ in range(200):   # v1: processes cannot leave the cgroup, so this converges
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by every process the job ever had (None when unknown)."""
        return read_cpu_seconds(self.usage_file)

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed a process of this job."""
        if not self.memory_dir:
            return False
        try:
            with open(os.path.join(self.memory_dir, self.memory_file)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except OSError:
            pass
        return False

    def remove(self, timeout: float = 2.0) -> bool:
        """rmdir every job cgroup (retrying while dying tasks leave); False if one is left."""
        deadline = time.monotonic() + timeout
        left = []
        for d in reversed(self.dirs):
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        left.append(d)
                        break
                    time.sleep(0.002)
        self.dirs = left
        return not left


def sweep_stale(support: CgroupSupport) -> int:
    """Kill and remove job cgroups whose owning zygote is dead (a crashed earlier batch)."""
    removed = 0
    for parent in (support.memory_v1, support.pids_v1, support.cpu_v1, support.cpuacct_v1, support.unified):
        if not parent or not os.path.isdir(parent):
            continue
        for entry in os.listdir(parent):
            if not entry.startswith(PREFIX) or entry.startswith(PREFIX + "probe"):
                continue
            try:
                owner = int(entry[len(PREFIX):].split("-")[0])
                os.kill(owner, 0)
                continue               # owner alive: not ours to touch
            except (ValueError, ProcessLookupError):
                pass
            except PermissionError:
                continue
            job = JobCgroup.__new__(JobCgroup)
            job.dirs, job.kill_dir, job.memory_dir = [os.path.join(parent, entry)], None, None
            if parent == support.unified and support.v2_kill:
                job.kill_dir = job.dirs[0]
            job.kill()
            removed += job.remove()
    return removed
