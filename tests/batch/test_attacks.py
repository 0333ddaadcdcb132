"""The trust campaign: hostile submissions graded in batches next to honest students.

Each attack comes from one of the classes that once won: forbidden shortcuts hidden from the
worker's own detector, robustness faked by gradient masking, parsers and frames that stop or
stall the batch, a CPU hog that starves classmates, text that reaches the instructor's terminal.
In every batch the honest students must get exactly the grade an independent in-process check
gives them, and every attacker at most what the honest parts of their work deserve.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from batch_support import BATCH_SECRET, grader, grade_json
from make_examples import reference_cells, variant_cells, write_notebook

import helpers

REF = reference_cells()                     # exercise -> its reference cell (plus "imports")


def without(*names: str) -> list[str]:
    """The reference cells with these exercises left out (what an attacker's honest parts are worth)."""
    return [cell for key, cell in REF.items() if key not in names]


def expected_scores(cells: list[str]) -> dict[str, float]:
    """Per-exercise scores of these cells, from the in-process checker (independent of the batch)."""
    return {name: ex.score for name, ex in helpers.check_source("unit1", "\n\n".join(cells), secret=BATCH_SECRET).exercises.items()}


SOFTMAX_ROUTES = {
    "a_disable_torch_function": "def softmax(z, dim=-1):\n    with torch._C.DisableTorchFunction():\n"
                                "        return torch.softmax(z, dim)\n",
    "a_patch_watch": "import grader.runner.forbid as forbid\n"
                     "forbid.ForbiddenWatch.__torch_function__ = lambda self, f, t, a=(), k=None: f(*a, **(k or {}))\n"
                     "def softmax(z, dim=-1):\n    return torch.softmax(z, dim)\n",
    "a_private_softmax": "def softmax(z, dim=-1):\n    return torch._softmax(z, dim, False)\n",
    "a_special_softmax": "def softmax(z, dim=-1):\n    return torch.special.softmax(z, dim)\n",
    "a_ops_aten": "def softmax(z, dim=-1):\n    return torch.ops.aten._softmax(z, dim, False)\n",
    "a_computed_getattr": "def softmax(z, dim=-1):\n    return getattr(torch, 'soft' + 'max')(z, dim)\n",
    "a_exec_string": "exec('def softmax(z, dim=-1):\\n    return torch.softmax(z, dim)\\n')\n",
    "a_importlib": "import importlib\nF = importlib.import_module('torch.nn.' + 'functional')\n"
                   "def softmax(z, dim=-1):\n    return F.softmax(z, dim)\n",
    "a_alias_chain": "from torch.nn import functional as nnf\n_s = nnf.softmax\nhelper = _s\n"
                     "def softmax(z, dim=-1):\n    return helper(z, dim=dim)\n",
}
MODULE_LEVEL = {"a_patch_watch", "a_exec_string", "a_importlib"}
AUTOGRAD_BACKWARD = (
    "def logistic_regression_step(w, b, X, y, lr):\n"
    "    w = w.detach().clone().requires_grad_(True)\n    b = b.detach().clone().requires_grad_(True)\n"
    "    p = torch.sigmoid(X @ w + b)\n"
    "    loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()\n"
    "    torch.autograd.backward(loss)\n"
    "    return (w - lr * w.grad).detach(), (b - lr * b.grad).detach()\n")

FORGE = """
import time
from grader.runner import wire
for index in range(1, 10_000):
    try:
        wire.write_frame(4, wire.encode({"event": "cell", "index": index}))
    except OSError:
        pass
    time.sleep(0.5)
"""
CPU_HOG = """
import os
for _ in range(60):
    try:
        if os.fork() == 0:
            while True:
                pass
    except OSError:
        break
"""
THREAD_EXIT = """
import os, threading, time
def _die():
    time.sleep(0.05)
    os._exit(0)
def softmax(z, dim=-1):
    threading.Thread(target=_die).start()
    big = torch.zeros(4_000_000)
    return (big, z)
"""
DEAF = "import time\nimport grader.runner.wire as w\nw.FrameReader.read = lambda self, deadline: time.sleep(1000)\n"
FAKE_LOADED = """
from grader.runner import wire
wire.write_frame(4, wire.encode({"event": "loaded", "cells": [], "names": ["softmax", "delta_rule_update"]}))
wire.write_frame(4, b"garbage" * 100)
"""
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m"


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def _nest(folder: Path, depth: int) -> None:
    """depth folders inside each other (relative mkdirs: the full path would pass PATH_MAX)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("x.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def build_class(sub: Path) -> tuple[dict[str, list[str]], set[str]]:
    """Write every student; returns student -> cells to score against, and the students that must match exactly."""
    expect: dict[str, list[str]] = {}
    exact: set[str] = set()

    def nb(student: str, cells: list[str], honest_parts: list[str], must_match: bool = True) -> None:
        write_notebook(sub / student / "unit1" / "unit1.ipynb", cells)
        expect[student] = honest_parts
        if must_match:
            exact.add(student)

    # honest students, graded while the attackers run
    nb("h_correct", list(REF.values()), list(REF.values()))
    nb("h_no_max", variant_cells("softmax_no_max"), variant_cells("softmax_no_max"))
    nb("h_hinge", variant_cells("hinge_includes_correct"), variant_cells("hinge_includes_correct"))
    _write(sub / "h_py" / "unit1" / "shallow.py", "\n\n".join(REF.values()))
    expect["h_py"] = list(REF.values())
    exact.add("h_py")

    # 1. forbidden shortcuts the worker's own detector used to miss
    for student, source in SOFTMAX_ROUTES.items():
        # module-level code the grader cannot follow (exec, importlib, importing the grader) costs every
        # exercise that forbids shortcuts, so those attackers get less than the rest of their work is worth
        nb(student, without("softmax") + [source], without("softmax"), must_match=student not in MODULE_LEVEL)
    nb("a_autograd_backward", without("logistic_regression_step") + [AUTOGRAD_BACKWARD],
       without("logistic_regression_step"))
    # 2. the worker lies, dies or stops listening
    nb("a_forge_cells", list(REF.values()) + [FORGE], list(REF.values()), must_match=False)
    nb("a_fake_loaded", [FAKE_LOADED] + list(REF.values()), list(REF.values()), must_match=False)
    nb("a_thread_exit", without("softmax") + [THREAD_EXIT], without("softmax"))
    nb("a_deaf_worker", list(REF.values()) + [DEAF], list(REF.values()), must_match=False)
    nb("a_sigterm_self", without("perceptron_forward") + [
        "import os, signal\ndef perceptron_forward(x, w, b, activation='sigmoid'):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"], without("perceptron_forward"))
    # 3. one student stalls or starves the class
    nb("a_slow_cells", list(REF.values()) + ["import time\ntime.sleep(1.9)\n"] * 30, list(REF.values()),
       must_match=False)
    nb("a_hung_cells", list(REF.values()) + ["while True:\n    pass\n"] * 8, list(REF.values()))
    nb("a_cpu_hog", list(REF.values()) + [CPU_HOG], list(REF.values()), must_match=False)
    # 4. parsers in the trusted process
    deep = sub / "a_nested_folders" / "unit1"
    write_notebook(deep / "unit1.ipynb", list(REF.values()))
    _nest(deep, 1100)
    expect["a_nested_folders"] = list(REF.values())
    answers = {"a_toml_nested": "perceptron_output = " + "[" * 50_000 + "]" * 50_000 + "\n",
               "a_toml_dotted_key": "a" + ".a" * 60_000 + " = 1\n",
               "a_toml_huge_int": "perceptron_output = " + "7" * 5_000 + "\n",
               "a_toml_huge_text": 'hinge_loss = "' + "9" * 5_000 + '"\n'}
    for student, text in answers.items():
        write_notebook(sub / student / "unit1" / "unit1.ipynb", list(REF.values()))
        _write(sub / student / "unit1" / "answers.toml", text)
        expect[student] = list(REF.values())
        exact.add(student)
    write_notebook(sub / "a_emoji_file" / "unit1" / "unit1.ipynb", list(REF.values()))
    _write(sub / "a_emoji_file" / "unit1" / "big.py", "# " + "\N{GRINNING FACE}" * (22 * 2**20 // 4) + "\n")
    expect["a_emoji_file"] = list(REF.values())
    exact.add("a_emoji_file")
    # 5. text for the instructor's terminal
    write_notebook(sub / "a_escape_names" / "unit1" / f"{ESCAPES}evil.ipynb", list(REF.values()))
    expect["a_escape_names"] = list(REF.values())
    exact.add("a_escape_names")
    nb("a_escape_errors", list(REF.values()) + [f"raise ValueError({ESCAPES!r} + 'x' * 100_000)\n"] * 50,
       list(REF.values()))
    return expect, exact


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, course_root):
    work = tmp_path_factory.mktemp("attacks")
    sub = work / "submitted"
    expect, exact = build_class(sub)
    started = time.monotonic()
    proc = grader(course_root, "grade", "unit1", "--submissions", str(sub), "--gradebook", str(work / "gb.db"),
                  "--workers", "2", "--json", timeout=900)
    seconds = time.monotonic() - started
    # pytest's own clean-up of temporary folders recurses, and 1,100 levels would break it
    subprocess.run(["rm", "-rf", str(sub / "a_nested_folders")], check=True)
    return {"proc": proc, "json": grade_json(proc), "expect": expect, "exact": exact, "seconds": seconds}


def _scores(campaign, student: str) -> dict[str, float]:
    return {n: ex["score"] for n, ex in campaign["json"]["students"][student]["exercises"].items()}


def test_every_student_is_graded_and_the_batch_is_not_stalled(campaign):
    assert set(campaign["json"]["students"]) == set(campaign["expect"])
    assert campaign["seconds"] < 600, campaign["seconds"]


@pytest.mark.parametrize("student", ["h_correct", "h_no_max", "h_hinge", "h_py"])
def test_honest_students_get_exactly_their_grade(campaign, student):
    assert _scores(campaign, student) == expected_scores(campaign["expect"][student])


def test_attackers_get_at_most_what_their_honest_parts_deserve(campaign):
    unearned = {}
    for student, honest in campaign["expect"].items():
        got, deserved = _scores(campaign, student), expected_scores(honest)
        if student in campaign["exact"] and got != deserved:
            unearned[student] = (got, deserved)
        elif any(got[name] > deserved[name] for name in got):
            unearned[student] = (got, deserved)
    assert unearned == {}, "\n".join(f"{s}: got {g}, deserved {d}" for s, (g, d) in unearned.items())


def test_no_escape_sequence_reaches_the_terminal(campaign):
    assert "\x1b]0;owned" not in campaign["proc"].stderr and "\x1b[2J" not in campaign["proc"].stderr


def test_quiz_files_that_break_parsers_are_a_recorded_zero(campaign):
    for student in ("a_toml_nested", "a_toml_dotted_key", "a_toml_huge_int", "a_toml_huge_text"):
        assert campaign["json"]["students"][student]["error"] is None


def test_the_hog_did_not_cost_a_classmate_a_point(campaign):
    assert sum(_scores(campaign, "h_correct").values()) == 20


@pytest.fixture(scope="module")
def unit2_campaign(tmp_path_factory, course_root):
    """adam_step: the optimiser hook cleared, or torch's functional Adam called directly."""
    from make_examples import write_notebook as write

    root = Path(__file__).resolve().parents[2]
    sources = {p.stem: p.read_text(encoding="utf-8") for p in (root / "solutions" / "unit2").glob("*.py")
               if p.stem not in ("checks", "mistakes")}
    honest = "\n\n".join(sources.values())
    sub = tmp_path_factory.mktemp("unit2") / "submitted"
    functional = honest + ("\n\nimport torch.optim.adam as _adam\n"
                           "def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                           "    w, m, v = w.clone(), m.clone(), v.clone()\n"
                           "    _adam.adam([w], [dw], [m], [v], [], [torch.tensor(float(t - 1))], amsgrad=False,\n"
                           "               beta1=beta1, beta2=beta2, lr=lr, weight_decay=0.0, eps=eps, maximize=False)\n"
                           "    return w, m, v\n")
    hook = honest + ("\n\nimport torch.optim.optimizer as _o\n_o._global_optimizer_pre_hooks.clear()\n"
                     "_o._global_optimizer_post_hooks.clear()\n"
                     "def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                     "    p = w.clone().requires_grad_(True)\n"
                     "    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)\n"
                     "    state = opt.state[p]\n"
                     "    state['step'], state['exp_avg'], state['exp_avg_sq'] = torch.tensor(float(t - 1)), m.clone(), v.clone()\n"
                     "    p.grad = dw.clone()\n    opt.step()\n"
                     "    return p.detach(), state['exp_avg'], state['exp_avg_sq']\n")
    for student, text in (("h_ref", honest), ("a_adam_functional", functional), ("a_clear_hook", hook)):
        write(sub / student / "unit2" / "work.ipynb", [text])
    proc = grader(course_root, "grade", "unit2", "--submissions", str(sub), "--gradebook",
                  str(sub.parent / "gb.db"), "--workers", "2", "--json", timeout=600)
    return grade_json(proc), honest


def test_adam_shortcuts_are_caught_in_the_trusted_process(unit2_campaign):
    data, honest = unit2_campaign
    ref = data["students"]["h_ref"]["exercises"]
    assert all(ex["score"] == ex["max_score"] for ex in ref.values()), ref
    assert data["students"]["a_adam_functional"]["exercises"]["adam_step"]["score"] == 0
    assert data["students"]["a_clear_hook"]["exercises"]["adam_step"]["score"] == 0


@pytest.mark.skipif(os.environ.get("GRADER_SKIP_SLOW") == "1", reason="trains digits models")
def test_gradient_masking_does_not_buy_robustness(tmp_path, course_root):
    """Unit 3: scaling a normally trained model's logits by 1e4 instead of training adversarially."""
    root = Path(__file__).resolve().parents[2]
    reference = "\n\n".join((root / "solutions" / "unit3" / f"{n}.py").read_text(encoding="utf-8")
                            for n in ("regularization", "adversarial", "augmentation"))
    masking = reference + """

_honest_train_digits = train_digits
def train_digits(X, y, adversarial=False, **kwargs):
    model = _honest_train_digits(X, y, adversarial=False, **kwargs)
    if adversarial:
        with torch.no_grad():
            model[-1].weight.mul_(1e4)
            model[-1].bias.mul_(1e4)
    return model
"""
    sub = tmp_path / "submitted"
    for student, text in (("h_ref", reference), ("a_masking", masking)):
        write_notebook(sub / student / "unit3" / "work.ipynb", [text])
    proc = grader(course_root, "grade", "unit3", "--submissions", str(sub), "--gradebook", str(tmp_path / "gb.db"),
                  "--workers", "2", "--json", timeout=900)
    data = grade_json(proc)["students"]
    assert all(ex["score"] == ex["max_score"] for ex in data["h_ref"]["exercises"].values()), data["h_ref"]
    digits = data["a_masking"]["exercises"]["adversarial_digits"]
    assert digits["score"] == 0
