"""Grading on a real Dask LocalCluster of 2 worker processes: same grades as the local pool, lost workers.

One cluster serves the whole module (each of its workers imports torch once, and each batch
starts a sandbox zygote per worker), so the module costs one cluster start-up.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from make_examples import variant_cells, write_notebook

distributed = pytest.importorskip("distributed")

from grader.batch import BatchOptions, grade_batch  # noqa: E402
from grader.config import load_course  # noqa: E402
from grader.errors import GraderFailure, UsageError  # noqa: E402
from grader.gradebook import Gradebook  # noqa: E402

HOSTILE = {
    # kills its own worker at every load: its checks fail, the batch goes on (a result, never a task retry)
    "kill_self": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    # tries to kill the process that forked it (the zygote) and the Dask worker above it
    "kill_parents": "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
                    "    except OSError:\n        pass\n",
    "os_exit": None,
}
HONEST = ["correct", "softmax_no_max", "delta_rule_sign", "blank"]
SLOW = "import time\ntime.sleep(4)\n"   # keeps one student's task running while its worker is killed


def _class(folder: Path, students: dict[str, list[str]]) -> Path:
    for student, cells in students.items():
        write_notebook(folder / student / "unit1" / "unit1.ipynb", cells)
    return folder


def _mixed_class(folder: Path, prefix: str, size: int) -> Path:
    students = {f"{prefix}{i}": variant_cells(v) for i, v in enumerate(HONEST)}
    for name, cell in HOSTILE.items():
        students[f"{prefix}_{name}"] = variant_cells(name) if cell is None else [cell] + variant_cells("correct")
    return _class(folder, dict(list(students.items())[-size:]))


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 processes on unique ports (no fixed port, no dashboard port)."""
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     scheduler_port=0, dashboard_address="127.0.0.1:0", memory_limit=0,
                                     silence_logs=logging.ERROR)
    client = distributed.Client(local, timeout=5, set_as_default=False)
    try:
        client.wait_for_workers(2, timeout=120)
        yield local, client
    finally:   # short timeouts, errors ignored: the last test takes the scheduler down
        for close in (client.close, local.close):
            with contextlib.suppress(Exception):
                close(timeout=2)


def _grade(course_root: Path, sub: Path, gradebook: Path, on_outcome=None, **options) -> tuple:  # noqa: ANN001
    course = load_course(course_root)
    with Gradebook(gradebook) as book:
        report = grade_batch(course, course.unit("unit1"), sub, book, BatchOptions(workers=2, **options),
                             on_outcome=on_outcome)
        grades = {g.student: g for g in book.grades("unit1")}
    return report, grades


def _view(grades: dict) -> dict:
    """Everything a grade says, except when and by which run it was made."""
    return {s: (g.status, g.score, g.error, g.notes, g.content_hash,
                {n: (e.score, e.error, e.graded_from, e.notes, [(c.name, c.passed, c.message, c.hint, c.stage)
                                                               for c in e.checks]) for n, e in g.exercises.items()})
            for s, g in grades.items()}


def _gradings(gradebook: Path) -> dict[str, int]:
    conn = sqlite3.connect(gradebook)
    try:
        return dict(conn.execute("SELECT student, COUNT(*) FROM gradings GROUP BY student"))
    finally:
        conn.close()


def test_two_concurrent_cluster_batches_equal_the_local_pool(course_root, cluster, tmp_path):
    local, client = cluster
    address = local.scheduler_address
    classes = {"a": _mixed_class(tmp_path / "classa", "a", 7), "b": _mixed_class(tmp_path / "classb", "b", 3)}
    results: dict[str, tuple] = {}

    def run(k: str) -> None:
        results[k] = _grade(course_root, classes[k], tmp_path / f"cluster-{k}.db", cluster=address)

    threads = [threading.Thread(target=run, args=(k,)) for k in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert set(results) == {"a", "b"}, "a cluster batch failed (see the thread's exception above)"
    for k in "ab":
        report, on_cluster = results[k]
        assert report.sandbox.startswith(f"cluster: {address}, 2 Dask workers on 1 host(s), 2 slots")
        assert report.aborted is None and report.count("graded") == len(on_cluster) == (7 if k == "a" else 3)
        assert set(_gradings(tmp_path / f"cluster-{k}.db").values()) == {1}
    _, on_pool = _grade(course_root, classes["a"], tmp_path / "pool-a.db")
    assert _view(results["a"][1]) == _view(on_pool)
    # class b is a's last three students under other names: the concurrent batch graded them alike
    a_view = _view(results["a"][1])
    assert {s: v[1:] for s, v in _view(results["b"][1]).items()} == {"b" + s[1:]: v[1:] for s, v in a_view.items()
                                                                     if s[1:] in ("_kill_self", "_kill_parents",
                                                                                  "_os_exit")}
    a = results["a"][1]
    assert a["a0"].score == a["a0"].max_score == 20
    assert 0 < a["a1"].score < 20 and a["a3"].score == 0
    # the cell that killed its worker is the student's result (skipped, and said so), never a task retry
    assert a["a_kill_self"].status == "graded" and any("killed" in note for note in a["a_kill_self"].notes)
    assert a["a_kill_parents"].score == 20, "a student's code reached the zygote or the Dask worker"
    # each batch removed its plugin: no zygote of theirs is left on the workers
    assert all(not [p for p in plugins if p.startswith("dl-grader-")]
               for plugins in client.run(lambda dask_worker: list(dask_worker.plugins)).values())
    # resume: nothing changed, nothing graded; --force --student re-grades exactly that student
    report, again = _grade(course_root, classes["a"], tmp_path / "cluster-a.db", cluster=address)
    assert report.count("skipped") == len(again) and report.count("graded") == 0
    report, _ = _grade(course_root, classes["a"], tmp_path / "cluster-a.db", cluster=address, force=True,
                       student="a1")
    assert [o.student for o in report.outcomes] == ["a1"]
    assert _gradings(tmp_path / "cluster-a.db")["a1"] == 2 and _gradings(tmp_path / "cluster-a.db")["a0"] == 1


def test_a_killed_worker_loses_no_student_and_grades_none_twice(course_root, cluster, tmp_path):
    local, client = cluster
    students = {f"k{i}": [SLOW] + variant_cells(v) for i, v in enumerate(["correct", "softmax_no_max", "correct"])}
    students |= {f"q{i}": variant_cells(v) for i, v in enumerate(["correct", "delta_rule_sign", "blank", "correct"])}
    sub = _class(tmp_path / "class", students)
    pids = client.run(os.getpid)
    killed: list[str] = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.processing().items():
                if any(str(key).endswith("-k0") for key in keys):   # the slow student is on this worker now
                    time.sleep(1.0)   # let it start its cells
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append(worker)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    report, grades = _grade(course_root, sub, tmp_path / "gradebook.db", cluster=local.scheduler_address)
    killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert report.aborted is None and report.count("graded") == len(students)
    assert _gradings(tmp_path / "gradebook.db") == {s: 1 for s in students}
    assert grades["k0"].score == grades["k2"].score == 20 and grades["q3"].score == 20
    assert 0 < grades["k1"].score < 20 and grades["q2"].score == 0
    client.wait_for_workers(2, timeout=120)   # the nanny brought the killed worker back for the next test


def test_cuda_without_a_gpu_worker_is_refused_and_bad_addresses_are_usage_errors(course_root, cluster, tmp_path):
    local, _ = cluster
    sub = _class(tmp_path / "class", {"s0": variant_cells("correct")})
    with pytest.raises(GraderFailure, match="no worker of this cluster offers the GPU resource") as info:
        _grade(course_root, sub, tmp_path / "gb.db", cluster=local.scheduler_address, device="cuda")
    assert "--resources GPU=1" in info.value.hint
    for bad in ("local:0", "http://host:1", "somewhere"):
        with pytest.raises(UsageError):
            _grade(course_root, sub, tmp_path / "gb.db", cluster=bad)
    with pytest.raises(GraderFailure, match="only over TLS"):
        _grade(course_root, sub, tmp_path / "gb.db", cluster="tcp://10.0.0.1:8786", exam=True)


def test_exam_refuses_a_cluster_with_a_weak_host(course_root, cluster, tmp_path):
    local, client = cluster
    unsafe = tmp_path / "run"   # a lease folder others could write: the sandbox refuses to lease slots there
    unsafe.mkdir(mode=0o777)
    os.chmod(unsafe, 0o777)
    client.run(lambda: os.environ.__setitem__("GRADER_RUN_DIR", str(unsafe)))
    try:
        sub = _class(tmp_path / "class", {"s0": variant_cells("correct")})
        with pytest.raises(GraderFailure, match=r"exam mode refuses to grade: weak sandbox on \S+: sandbox: FAILED"):
            _grade(course_root, sub, tmp_path / "gb.db", cluster=local.scheduler_address, exam=True)
    finally:
        client.run(lambda: os.environ.pop("GRADER_RUN_DIR", None))
    assert all(not [p for p in plugins if p.startswith("dl-grader-")]
               for plugins in client.run(lambda dask_worker: list(dask_worker.plugins)).values())
    with Gradebook(tmp_path / "gb.db") as book:
        assert book.grades("unit1") == []   # nothing was graded on the weak host


def test_without_dask_cluster_is_a_usage_error_with_a_hint(course_root, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    sub = _class(tmp_path / "class", {"s0": variant_cells("correct")})
    with pytest.raises(UsageError, match="needs Dask distributed") as info:
        _grade(course_root, sub, tmp_path / "gb.db", cluster="local:2")
    assert "dl-grader[cluster]" in info.value.hint


def test_the_scheduler_going_away_stops_cleanly_and_the_next_run_resumes(course_root, cluster, tmp_path,
                                                                        monkeypatch):
    import grader.cluster.pool as pool

    local, _ = cluster   # the module's last test: it takes the cluster down
    monkeypatch.setattr(pool, "CONNECT_TIMEOUT", 3.0)   # how long the client tries to reconnect
    students = {f"s{i}": ["import time\ntime.sleep(1)\n"] + variant_cells("correct") for i in range(4)}
    sub, gradebook = _class(tmp_path / "class", students), tmp_path / "gradebook.db"
    first = threading.Event()
    stopper = threading.Thread(target=lambda: first.wait(300) and local.sync(local.scheduler.close))
    stopper.start()
    report, grades = _grade(course_root, sub, gradebook, on_outcome=lambda outcome: first.set(),
                            cluster=local.scheduler_address)
    stopper.join()
    assert report.aborted is not None and report.aborted.startswith("the Dask scheduler went away after")
    assert "run the same command again" in report.aborted
    done = len(grades)
    assert 0 < done < len(students) and set(_gradings(gradebook).values()) == {1}
    report, grades = _grade(course_root, sub, gradebook)   # the next run: here on the local pool
    assert report.count("skipped") == done and report.count("graded") == len(students) - done
    assert _gradings(gradebook) == {s: 1 for s in students} and {g.score for g in grades.values()} == {20}


def test_course_states_gpu_tolerances_apart_from_the_cpu_ones(course_root):
    course = load_course(course_root)
    assert course.tolerance("float32", "cuda") == course.tolerance("float32", "cuda:0")
    assert (course.tolerance("float32", "cuda").rtol, course.tolerance("float32", "cuda").atol) == (1e-5, 1e-5)
    assert course.tolerance("float32").rtol == 1.3e-6 and "cuda" not in course.tolerances
    assert course.tolerance("float64", "cuda") == course.tolerance("float64")   # no cuda entry: the default
