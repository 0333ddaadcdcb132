"""One batch of hostile, broken and honest students: the honest grades must come out right.

Attacks that only the sandbox can stop (reading solutions or other students, writing the
gradebook, sockets, killing the parent, exec) are only put in the class when the batch
launcher reports STRONG; with the local fallback they would succeed (or kill the batch),
so their tests are skipped there with that reason.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from batch_support import BATCH_SECRET, ROOT, grader, grade_json
from make_examples import FUNCTIONS, STUB, notebook_json, reference_cells, variant_cells, write_notebook

import helpers

REF = list(reference_cells().values())
BLANK = [STUB.format(name=n) for n in FUNCTIONS]
MARK = f"hostile{os.getpid()}"
SANDBOX_ONLY = {"a_kill_parent", "a_read_solutions", "a_copy_student", "a_write_gradebook", "a_socket", "a_exec_shell"}


def expected_scores(cells: list[str]) -> dict[str, float]:
    """Per-exercise scores from the in-process checker (independent of the batch)."""
    result = helpers.check_source("unit1", "\n\n".join(cells), secret=BATCH_SECRET)
    return {name: ex.score for name, ex in result.exercises.items()}


class Listener:
    """A loopback TCP listener that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.accepted += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def build_class(sub: Path, gradebook: Path, csv: Path, port: int, strong: bool) -> dict[str, list[str]]:
    """Write every student; returns student -> the cells an honest grader should score."""
    cells: dict[str, list[str]] = {}

    def nb(student: str, student_cells: list[str], expect: list[str] | None = None) -> None:
        write_notebook(sub / student / "unit1" / "unit1.ipynb", student_cells)
        cells[student] = expect if expect is not None else student_cells

    # honest students
    nb("h_correct", REF)
    nb("h_softmax_no_max", variant_cells("softmax_no_max"))
    nb("h_hinge", variant_cells("hinge_includes_correct"))
    (sub / "h_py" / "unit1").mkdir(parents=True)
    (sub / "h_py" / "unit1" / "shallow.py").write_text("\n\n".join(REF), encoding="utf-8")
    cells["h_py"] = REF

    # attacks on the process
    nb("a_loop_sigterm", REF + ["import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"],
       REF)
    loop_delta = ("import signal\ndef delta_rule_update(w, x, target, lr):\n"
                  "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    while True:\n        pass\n")
    nb("a_loop_fn", [c for c in REF if "def delta_rule_update" not in c] + [loop_delta],
       [c for c in REF if "def delta_rule_update" not in c])
    nb("a_memory_bomb", REF + ["chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 2**20))\n"], REF)
    fork = (f"import os, ctypes, subprocess, time\nlibc = ctypes.CDLL(None)\n"
            f"for i in range(20):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
            f"    if pid == 0:\n        libc.prctl(15, b'{MARK[:10]}', 0, 0, 0)\n        time.sleep(1000)\n"
            f"        os._exit(0)\n"
            f"try:\n    subprocess.Popen(['sleep', '4242'])\nexcept OSError as exc:\n    print(exc)\n"
            f"if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        libc.prctl(15, b'{MARK[:10]}', 0, 0, 0)\n        time.sleep(1000)\n    os._exit(0)\n")
    # a module-level import of ctypes fails the exercises that forbid shortcuts (a trusted-side verdict on
    # the source); a harmless stand-in cell gives check_source the same verdict without forking
    nb("a_fork_spawn", REF + [fork], REF + ["import ctypes\n"])
    nb("a_os_exit", variant_cells("os_exit"), [c for c in REF if "def softmax_cross_entropy" not in c])
    segv = "import faulthandler\ndef multiclass_hinge_loss(scores, y, margin=1.0):\n    return faulthandler._sigsegv()\n"
    nb("a_segfault", [c for c in REF if "def multiclass_hinge_loss" not in c] + [segv],
       [c for c in REF if "def multiclass_hinge_loss" not in c])
    nb("a_killpg_own", REF + ["import os, signal\nos.killpg(0, signal.SIGKILL)\n"], REF)
    # attacks on the grader's answer
    nb("a_monkeypatch", variant_cells("monkeypatch_torch"),  # patching torch at load: the same verdict as builtins
       [c for c in REF if "def softmax(" not in c] + ["import builtins\n"])
    nb("a_lying_tensor", variant_cells("lying_tensor"), [c for c in REF if "def softmax(" not in c])
    nb("a_fake_passed", variant_cells("fake_passed"), [c for c in REF if "def multiclass_hinge_loss" not in c])
    nb("a_big_output", REF + ["import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(40 * 1024):\n"
                              "    sys.stdout.write(line)\n"], REF)
    if strong:
        nb("a_kill_parent", REF + ["import os, signal\nfor target in (os.getppid(), -os.getpgid(os.getppid())):\n"
                                   "    try:\n        os.kill(target, signal.SIGKILL)\n"
                                   "    except OSError as exc:\n        print(exc)\n"], REF)
        nb("a_read_solutions", variant_cells("read_solutions"), BLANK)
        victim = sub / "h_correct" / "unit1" / "unit1.ipynb"
        nb("a_copy_student", BLANK + [f"import json\nfor c in json.load(open({str(victim)!r}))['cells']:\n"
                                      "    if c['cell_type'] == 'code':\n        exec(''.join(c['source']))\n"], BLANK)
        nb("a_write_gradebook", REF + [f"for p in ({str(gradebook)!r}, {str(gradebook) + '-wal'!r}, {str(csv)!r}):\n"
                                       "    try:\n        open(p, 'wb').write(b'pwned' * 1000)\n"
                                       "    except OSError as exc:\n        print(exc)\n"], REF)
        nb("a_socket", REF + [f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                              "except OSError as exc:\n    print(exc)\n"], REF)
        nb("a_exec_shell", REF + [f"import subprocess\ntry:\n"
                                  f"    subprocess.run(['/bin/sh', '-c', 'touch /tmp/{MARK}'])\n"
                                  "except OSError as exc:\n    print(exc)\n"], REF)

    # broken input
    good = notebook_json(REF)
    (sub / "b_truncated" / "unit1").mkdir(parents=True)
    (sub / "b_truncated" / "unit1" / "unit1.ipynb").write_text(good[: len(good) // 2], encoding="utf-8")
    (sub / "b_non_utf8" / "unit1").mkdir(parents=True)
    (sub / "b_non_utf8" / "unit1" / "unit1.ipynb").write_bytes(good.encode("utf-16"))
    (sub / "b_empty" / "unit1").mkdir(parents=True)
    (sub / "b_no_unit").mkdir()
    nb_big = json.loads(good)
    png = base64.b64encode(os.urandom(22 * 2**20)).decode()
    nb_big["cells"][1]["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": png}}]
    (sub / "b_big_image" / "unit1").mkdir(parents=True)
    (sub / "b_big_image" / "unit1" / "unit1.ipynb").write_text(json.dumps(nb_big), encoding="utf-8")
    cells["b_big_image"] = REF
    (sub / "b_symlink" / "unit1").mkdir(parents=True)
    (sub / "b_symlink" / "unit1" / "shallow.py").symlink_to(ROOT / "solutions" / "unit1" / "shallow.py")
    (sub / "b_duplicate" / "unit1").mkdir(parents=True)
    for name in ("unit1.ipynb", "unit1 (1).ipynb"):
        (sub / "b_duplicate" / "unit1" / name).write_text(good, encoding="utf-8")
    cells["b_duplicate"] = REF
    nb("b_plagiarist", REF)
    return cells


@pytest.fixture(scope="module")
def batch(tmp_path_factory, course_root, sandbox_strong):
    work = tmp_path_factory.mktemp("hostile")
    sub, gradebook, csv, feedback = work / "submitted", work / "gradebook.db", work / "grades.csv", work / "feedback"
    sub.mkdir()
    listener = Listener()
    try:
        cells = build_class(sub, gradebook, csv, listener.port, sandbox_strong)
        started = time.monotonic()
        proc = grader(course_root, "grade", "unit1", "--submissions", str(sub), "--gradebook", str(gradebook),
                      "--csv", str(csv), "--feedback", str(feedback), "--workers", "2", "--json")
        seconds = time.monotonic() - started
        time.sleep(0.5)
    finally:
        listener.close()
    from grader.gradebook import Gradebook

    with Gradebook(gradebook, readonly=True) as gb:
        stored = {g.student: g for g in gb.grades("unit1")}
    return {"proc": proc, "json": grade_json(proc), "cells": cells, "stored": stored, "csv": csv, "work": work,
            "feedback": feedback, "listener": listener, "seconds": seconds, "strong": sandbox_strong, "sub": sub}


def _scores(batch, student: str) -> dict[str, float]:
    data = batch["json"]["students"][student]
    return {name: ex["score"] for name, ex in data["exercises"].items()}


HONEST_OR_CONTAINED = ["h_correct", "h_softmax_no_max", "h_hinge", "h_py", "a_loop_sigterm", "a_loop_fn",
                       "a_memory_bomb", "a_fork_spawn", "a_os_exit", "a_segfault", "a_killpg_own", "a_monkeypatch",
                       "a_lying_tensor", "a_fake_passed", "a_big_output", "b_big_image", "b_duplicate",
                       "b_plagiarist", *sorted(SANDBOX_ONLY)]


@pytest.mark.parametrize("student", HONEST_OR_CONTAINED)
def test_scores_are_what_the_honest_parts_deserve(batch, student):
    if student in SANDBOX_ONLY and not batch["strong"]:
        # Without the full sandbox this attack would win, so it is left out of the class, and the
        # batch must say loudly that it is not isolated.
        assert student not in batch["json"]["students"]
        assert _says_unprotected(batch)
        return
    expected = expected_scores(batch["cells"][student])
    assert _scores(batch, student) == expected, batch["stored"][student].notes


def test_the_batch_finished_and_reported_every_student(batch):
    students = set(batch["json"]["students"])
    assert students == {p.name for p in batch["sub"].iterdir()}
    assert "-> STRONG" in batch["proc"].stderr or not batch["strong"]
    assert batch["seconds"] < 150


def test_known_attacks_are_explained_in_the_notes(batch):
    notes = {s: " ".join(g.notes) for s, g in batch["stored"].items()}
    assert "did not finish within 2 s" in notes["a_loop_sigterm"]
    assert "identical copy" in notes["b_duplicate"]
    ex = batch["stored"]["a_segfault"].exercises["multiclass_hinge_loss"]
    assert "segmentation fault" in ex.checks[0].message
    ex = batch["stored"]["a_os_exit"].exercises["softmax_cross_entropy"]
    assert "exited with code 0" in ex.checks[0].message
    ex = batch["stored"]["a_loop_fn"].exercises["delta_rule_update"]
    assert "did not finish within 2 s" in ex.checks[0].message


@pytest.mark.parametrize("student,reason", [
    ("b_truncated", "not a readable notebook"), ("b_non_utf8", "not UTF-8"), ("b_empty", "no notebooks or .py files"),
    ("b_no_unit", "no unit1/ folder"), ("b_symlink", "symbolic link; it was not followed")])
def test_broken_input_gets_a_reason_and_a_zero(batch, student, reason):
    data = batch["json"]["students"][student]
    assert data["total"] == 0
    assert reason in data["error"]
    assert batch["stored"][student].status == "ungradable"


def test_identical_submissions_are_flagged(batch):
    assert "identical submissions: b_plagiarist, h_correct" in batch["proc"].stderr


def test_no_process_outlives_the_batch(batch):
    leftovers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if comm.startswith(MARK[:10]) or cmdline == b"sleep\x004242\x00":
            leftovers.append((pid, comm))
    assert leftovers == []


def test_csv_and_gradebook_survive_attacks_on_them(batch):
    from grader.gradebook import Gradebook

    text = batch["csv"].read_text(encoding="utf-8")
    assert text.startswith("student_id,perceptron_forward,")
    assert "pwned" not in text
    with Gradebook(batch["work"] / "gradebook.db") as gb:  # opens, checks integrity, writable
        assert len(gb.grades("unit1")) == len(batch["json"]["students"])


def _says_unprotected(batch) -> bool:
    err = batch["proc"].stderr
    return "WITHOUT isolation" in err or "DEGRADED" in err


def test_sockets_never_reach_a_loopback_listener(batch):
    if not batch["strong"]:
        assert _says_unprotected(batch)  # the socket attack is not in a class graded without a sandbox
        return
    assert batch["listener"].accepted == 0


def test_students_cannot_exec_programs(batch):
    if not batch["strong"]:
        assert _says_unprotected(batch)
        return
    assert not Path(f"/tmp/{MARK}").exists()


def test_feedback_pages_escape_student_text(batch):
    page = (batch["feedback"] / "a_fake_passed" / "unit1.html").read_text(encoding="utf-8")
    assert "multiclass_hinge_loss: 0 / 3" in page
    assert "<script" not in page.lower()
    assert "def softmax" not in page and "amax" not in page  # no reference code
