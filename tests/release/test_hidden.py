"""Public and hidden checks: their seeds, the hard-code attack, feedback without expected values, the course secret.

`grader check` runs the public cases (seeded from public seeds); `grader grade` runs the hidden
cases, seeded from the course secret, and decides the grade.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import COURSE, ROOT, check_path, check_source

from grader.batch import spec_hash
from grader.checking import case_seed, plan_unit
from grader.config import load_course
from grader.errors import ConfigError
from grader.runner.wire import Array
from grader.secret import CREATED, course_secret
from grader.spec.loader import load_unit_spec

SECRET = "test-secret-5d2b1f0c9e8a7d6c"
INTEGER = ["conv_output_size", "conv2d_num_params", "linear_num_params", "receptive_field"]
PREDICTABLE_DRIVERS = ("call_raises", "module_raises")
LIMITS = "[limits]\ncheck_timeout = 5.0\nload_timeout = 20.0\nmemory_mb = 2048\n"


# ---------------------------------------------------------------- helpers
def make_course(folder: Path, grading: str | None = None, secret: str | None = SECRET) -> Path:
    """A course root over the real solutions and quizzes, with its own secret file and short limits."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[limits\]\n(?:[^\[\n][^\n]*\n|\n)*", LIMITS + "\n", text, count=1)
    if grading is not None:
        text = re.sub(r"\[grading\]\n(?:[^\[\n][^\n]*\n|\n)*", grading + "\n", text, count=1)
    (folder / "course.toml").write_text(text, encoding="utf-8")
    for name in ("solutions", "quizzes"):
        (folder / name).symlink_to(ROOT / name)
    if secret is not None:
        (folder / ".grader-secret").write_text(secret + "\n", encoding="utf-8")
    return folder


def grader(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    run_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "88", **(env or {})}
    run_env.pop("GRADER_COURSE", None)
    return subprocess.run([sys.executable, "-m", "grader", "--course", str(course), *args], capture_output=True,
                          text=True, timeout=600, env=run_env, cwd=str(course))


def digest(case) -> str:
    from grader.runner import wire

    return hashlib.sha256(wire.encode(case.inputs) + wire.encode(case.private)).hexdigest()


def cases(unit: str, exercise: str, secret: str | None):
    spec = load_unit_spec(COURSE, COURSE.unit(unit))
    return spec.exercises[exercise].cases(np.random.default_rng(case_seed(unit, exercise, -1, secret)))


def leaves(tree):
    """Every number of an expected output: Python numbers and the elements of arrays."""
    if isinstance(tree, Array):
        yield from tree.data.reshape(-1).tolist()
    elif isinstance(tree, (list, tuple)):
        for item in tree:
            yield from leaves(item)
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from leaves(item)
    elif type(tree) in (int, float):
        yield tree


def shown(value) -> list[str]:
    """How the renderers would print this expected number, when it is distinctive enough to search for."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int) or float(value).is_integer():
        return [str(int(value))] if abs(value) >= 10 else []
    if not np.isfinite(value):
        return []
    text = f"{value:.6g}"
    return [text] if len(text.replace("-", "").replace(".", "").lstrip("0")) >= 4 else []


def without_own_values(message: str) -> str:
    """The message less the student's own values ("got 9472", "got shape (2, 3)"), which are theirs to see."""
    message = re.sub(r"got (a tensor of )?shape \([^)]*\)", "got", message)
    return re.sub(r"got [^\s,]+", "got", message)


NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?!\w|\.\d)")


def numbers(text: str) -> set[str]:
    """Every number as it is written in the text."""
    return set(NUMBER.findall(text))




# ---------------------------------------------------------------- seeds
def test_public_seeds_are_todays_and_hidden_seeds_need_the_secret():
    old = int.from_bytes(hashlib.sha256(b"unit1/softmax/3").digest()[:4], "little")
    assert case_seed("unit1", "softmax", 3) == case_seed("unit1", "softmax", 3, None) == old
    hidden = case_seed("unit1", "softmax", 3, SECRET)
    assert hidden != old and hidden == case_seed("unit1", "softmax", 3, SECRET)
    assert case_seed("unit1", "softmax", 3, SECRET + "x") != hidden
    assert case_seed("unit1", "softmax", 4, SECRET) != hidden
    # the parts are length-prefixed: moving a character from the secret to the unit changes the seed
    assert case_seed("xunit1", "softmax", 3, SECRET[:-1]) != case_seed("unit1", "softmax", 3, SECRET[:-1] + "x")


@pytest.mark.parametrize("unit", [u.id for u in COURSE.units])
def test_hidden_cases_differ_from_public_ones_are_stable_and_change_with_the_secret(unit):
    """Most of every exercise's weight is on inputs a student cannot know (a lookup table cannot pass them)."""
    spec = load_unit_spec(COURSE, COURSE.unit(unit))
    for name in spec.exercises:
        public = {digest(c) for c in cases(unit, name, None)}
        hidden = [c for c in cases(unit, name, SECRET) if not c.public_only]
        again = [c for c in cases(unit, name, SECRET) if not c.public_only]
        other = [c for c in cases(unit, name, "another secret") if not c.public_only]
        assert [digest(c) for c in hidden] == [digest(c) for c in again], name
        secret_weight = sum(c.weight for c in hidden if digest(c) not in public)
        total = sum(c.weight for c in hidden)
        if name == "adversarial_digits":   # trains models, measured on the trusted test split: nothing to look up
            continue
        assert secret_weight >= 0.8 * total, (name, secret_weight, total)
        assert {digest(c) for c in hidden if digest(c) not in public} & {digest(c) for c in other} == set(), name
        predictable = sum(c.weight for c in hidden if c.driver in PREDICTABLE_DRIVERS)
        assert predictable < 0.1 * total, name   # as for the public cases (tests/core/test_predictable_share.py)


def test_plan_unit_marks_hidden_cases_and_hides_their_drawn_names():
    public = plan_unit(COURSE, COURSE.unit("unit5"), only=["conv_output_size"])
    hidden = plan_unit(COURSE, COURSE.unit("unit5"), only=["conv_output_size"], secret=SECRET)
    assert not public.hidden and hidden.hidden
    assert not any(p.hidden for p in public.cases["conv_output_size"])
    names = {p.case.name for p in public.cases["conv_output_size"]}
    for planned in hidden.cases["conv_output_size"]:
        if planned.hidden:   # a name drawn from the secret would show its inputs ("size=37, ..."): renamed
            drawn = {t for v in leaves(planned.inputs) for t in shown(v)}
            assert planned.case.name.startswith("hidden check ") or planned.case.name in names
            assert not drawn & numbers(planned.case.name), planned.case.name
        else:                # "size=3, kernel_size=5, dilation=1 raises ValueError": the same as in public
            assert planned.case.name in names and planned.case.driver == "call_raises"
    assert not any(p.case.public_only for p in hidden.cases["conv_output_size"])


# ---------------------------------------------------------------- the hard-code attack
def _norm(value):
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value


LOOKUP = '''
import hashlib
import torch

TABLE = {table}


def _norm(value):
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value


def _look(name, args, kwargs):
    value = TABLE.get(repr((name, _norm(list(args)), sorted((k, _norm(v)) for k, v in kwargs.items()))), 0)
    if isinstance(value, str):
        raise ValueError("it raised in the public checks")
    return value


def conv_output_size(*args, **kwargs):
    return _look("conv_output_size", args, kwargs)


def conv2d_num_params(*args, **kwargs):
    return _look("conv2d_num_params", args, kwargs)


def linear_num_params(*args, **kwargs):
    return _look("linear_num_params", args, kwargs)


def receptive_field(*args, **kwargs):
    return _look("receptive_field", args, kwargs)


def softmax(z, dim=-1):
    key = hashlib.sha256(z.detach().cpu().numpy().tobytes()).hexdigest() + f"/{{z.dtype}}/{{dim}}"
    return torch.tensor(TABLE.get(key, [0.0]), dtype=z.dtype)
'''


def lookup_table() -> dict:
    """Every public expected output of Unit 5's integer exercises and Unit 1's softmax, keyed by the inputs."""
    table = {}
    for planned in [p for cs in plan_unit(COURSE, COURSE.unit("unit5"), only=INTEGER).cases.values() for p in cs]:
        inputs = planned.inputs
        key = (inputs["fn"], _norm(list(inputs["args"])), sorted((k, _norm(v)) for k, v in inputs["kwargs"].items()))
        table[repr(key)] = planned.expected
    for planned in plan_unit(COURSE, COURSE.unit("unit1"), only=["softmax"]).cases["softmax"]:
        (z,) = planned.inputs["args"]
        dim = planned.inputs["kwargs"].get("dim", -1)
        dtype = {"float32": "torch.float32", "float64": "torch.float64"}[z.dtype]
        key = hashlib.sha256(z.data.tobytes()).hexdigest() + f"/{dtype}/{dim}"
        table[key] = planned.expected.data.tolist()
    return table


def test_a_lookup_table_of_the_public_outputs_passes_check_and_fails_grade(tmp_path):
    course = make_course(tmp_path / "course")
    source = LOOKUP.format(table=repr(lookup_table()))
    for unit in ("unit5", "unit1"):
        folder = tmp_path / "submitted" / "s001" / unit
        folder.mkdir(parents=True)
        (folder / "answers.py").write_text(source, encoding="utf-8")

    checked = check_path("unit5", tmp_path / "submitted" / "s001" / "unit5", exercises=INTEGER)
    assert {n: e.passed for n, e in checked.exercises.items()} == {n: True for n in INTEGER}
    checked = check_path("unit1", tmp_path / "submitted" / "s001" / "unit1", exercises=["softmax"])
    assert checked.exercises["softmax"].passed

    for unit, names in (("unit5", INTEGER), ("unit1", ["softmax"])):
        run = grader(course, "grade", unit, "--submissions", str(tmp_path / "submitted"), "--json", "--workers", "1")
        assert run.returncode == 0, run.stderr[-3000:]
        exercises = json.loads(run.stdout)["students"]["s001"]["exercises"]
        for name in names:   # only the cases whose answer is known in advance ("raises", a fixed input) pass
            assert exercises[name]["score"] <= 0.25 * exercises[name]["max_score"], (name, exercises[name])

    public = grader(course, "grade", "unit5", "--submissions", str(tmp_path / "submitted"), "--json", "--public")
    assert public.returncode == 0, public.stderr[-3000:]
    assert "--public" in public.stderr
    exercises = json.loads(public.stdout)["students"]["s001"]["exercises"]
    assert all(exercises[n]["score"] == exercises[n]["max_score"] for n in INTEGER)   # re-graded, not skipped


# ---------------------------------------------------------------- feedback without expected values
WRONG = {
    "unit5": {
        "plus_one": '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride
    if out <= 0:
        raise ValueError("too small")
    return out


def conv2d_num_params(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return out_channels * in_channels * kh * kw


def linear_num_params(in_features, out_features, bias=True):
    return in_features * out_features + in_features


def receptive_field(layers):
    return 1 + sum(k - 1 for k, s in layers)
''',
        "arrays": '''
import torch
import torch.nn.functional as F


def conv2d_forward(x, w, b, stride=1, padding=0):
    xp = F.pad(x, (padding, padding, padding, padding))
    windows = xp.unfold(2, w.shape[2], stride).unfold(3, w.shape[3], stride)
    return torch.einsum("nchwij,fcij->nfhw", windows, w.flip(-1, -2)) + b.view(1, -1, 1, 1)


def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    return torch.zeros(x.shape[0], x.shape[1], 2, 2, dtype=x.dtype)


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    import math
    return math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def linear_num_params(in_features, out_features, bias=True):
    return float(in_features * out_features)
''',
    },
    "unit1": {
        "no_max": '''
import torch


def softmax(z, dim=-1):
    e = torch.exp(z)
    return e / e.sum(dim=0, keepdim=True)


def multiclass_hinge_loss(scores, y, margin=1.0):
    n = scores.shape[0]
    m = (scores - scores[torch.arange(n), y][:, None] + margin).clamp(min=0)
    return m.sum() / n, torch.zeros_like(scores)


def softmax_cross_entropy(scores, y):
    p = torch.exp(scores) / torch.exp(scores).sum(dim=1, keepdim=True)
    n = scores.shape[0]
    return -torch.log(p[torch.arange(n), y]).sum(), p
''',
    },
}


def _outputs(course: Path, unit: str, submitted: Path, tmp: Path) -> tuple[str, dict]:
    """Everything a grade run shows: terminal, JSON, CSV, feedback pages; and the gradebook's checks."""
    feedback, csv = tmp / f"feedback-{unit}", tmp / f"{unit}.csv"
    run = grader(course, "grade", unit, "--submissions", str(submitted), "--json", "--csv", str(csv),
                 "--feedback", str(feedback), "--workers", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    export = grader(course, "export", unit, "--format", "json")
    assert export.returncode == 0, export.stderr[-3000:]
    pages = "".join(p.read_text(encoding="utf-8") for p in sorted(feedback.rglob("*.html")))
    text = "\n".join([run.stdout, run.stderr, csv.read_text(encoding="utf-8"), pages, export.stdout])
    return text, json.loads(export.stdout)


@pytest.mark.parametrize("unit", ["unit5", "unit1"])
def test_feedback_of_hidden_cases_shows_no_expected_value_and_no_input(tmp_path, unit):
    course = make_course(tmp_path / "course")
    submitted = tmp_path / "submitted"
    for student, source in WRONG[unit].items():
        (submitted / student / unit).mkdir(parents=True)
        (submitted / student / unit / "wrong.py").write_text(source, encoding="utf-8")
    text, exported = _outputs(course, unit, submitted, tmp_path)
    everywhere = numbers(text)   # what a student or an instructor reads, in any of the outputs
    plan = plan_unit(load_course(course), COURSE.unit(unit), secret=SECRET)
    checks = {(s, e, c["name"]): c for s, grade in exported["students"].items()
              for e, ex in grade["exercises"].items() for c in ex.get("checks", [])}
    failed = 0
    for name, planned_cases in plan.cases.items():
        for planned in planned_cases:
            if not planned.hidden:
                continue
            expected = {t for v in leaves(planned.expected) for t in shown(v)}
            inputs = {t for v in leaves(planned.inputs) for t in shown(v)} if name in INTEGER else set()
            floats = {t for t in expected if not t.lstrip("-").isdigit()}
            assert not floats & everywhere, (name, planned.case.name, floats & everywhere)
            for (student, exercise, check), result in checks.items():
                if exercise != name or check != planned.case.name or result["passed"]:
                    continue
                failed += 1
                message = result["message"]
                rest = numbers(without_own_values(f"{check}: {message}"))
                assert not (expected | inputs) & rest, (student, check, message, (expected | inputs) & rest)
                assert "off by" not in message and "largest difference" not in message and "expected (" not in message
    assert failed >= 5


def test_public_messages_give_the_direction_never_the_expected_value():
    """`grader check` keeps its staged, actionable messages, and the README's claim holds for numbers."""
    result = check_source("unit5", WRONG["unit5"]["plus_one"], INTEGER)
    plan = plan_unit(COURSE, COURSE.unit("unit5"), only=INTEGER)
    seen = 0
    for name, planned_cases in plan.cases.items():
        by_name = {c.name: c for c in result.exercises[name].checks}
        for planned in planned_cases:
            check = by_name[planned.case.name]
            if check.passed or planned.case.driver != "call_int" or check.message.startswith("raised"):
                continue
            seen += 1
            assert re.search(r"got -?\d+, which is too (large|small)", check.message), check.message
            assert str(planned.expected) not in numbers(without_own_values(check.message)), check.message
    assert seen >= 10
    result = check_source("unit1", WRONG["unit1"]["no_max"], ["multiclass_hinge_loss"])
    messages = [c.message for c in result.exercises["multiclass_hinge_loss"].checks if not c.passed]
    assert messages and all("which is too large" in m and "off by" not in m for m in messages)


# ---------------------------------------------------------------- the course secret
def test_the_secret_file_is_created_0600_and_said_once(tmp_path):
    course = load_course(make_course(tmp_path / "course", secret=None))
    said: list[str] = []
    secret = course_secret(course, create=True, say=said.append)
    path = course.root / ".grader-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}", secret) and path.read_text().strip() == secret
    assert said == [CREATED.format(path=path)]
    assert course_secret(course, create=True, say=said.append) == secret and len(said) == 1
    with pytest.raises(ConfigError):   # in a student release there is no secret at all
        course_secret(replace(course, release={"version": 1}))


def test_the_secret_comes_from_the_named_environment_variable(tmp_path, monkeypatch):
    grading = '[grading]\nsecret_env = "GRADER_TEST_SECRET_HIDDEN"\nsecret_file = ".grader-secret"'
    course = load_course(make_course(tmp_path / "course", grading, secret=None))
    monkeypatch.setenv("GRADER_TEST_SECRET_HIDDEN", "from the environment")
    assert course_secret(course, create=True) == "from the environment"
    assert not (course.root / ".grader-secret").exists()
    only_env = load_course(make_course(tmp_path / "other", '[grading]\nsecret_env = "GRADER_TEST_SECRET_HIDDEN"',
                                       secret=None))
    monkeypatch.delenv("GRADER_TEST_SECRET_HIDDEN")
    with pytest.raises(ConfigError, match="GRADER_TEST_SECRET_HIDDEN"):
        course_secret(only_env, create=True)


def test_course_toml_never_holds_the_secret_itself(tmp_path):
    with pytest.raises(ConfigError, match="holds a secret itself"):
        load_course(make_course(tmp_path / "course", '[grading]\nsecret = "hunter2"', secret=None))
    with pytest.raises(ConfigError, match="starting with GRADER_"):   # the launchers never pass those to workers
        load_course(make_course(tmp_path / "other", '[grading]\nsecret_env = "HOME"', secret=None))


def test_public_and_hidden_grades_have_different_spec_hashes():
    unit = COURSE.unit("unit1")
    assert len({spec_hash(COURSE, unit), spec_hash(COURSE, unit, "a"), spec_hash(COURSE, unit, "b")}) == 3
    assert spec_hash(COURSE, unit, "a") == spec_hash(COURSE, unit, "a")


def test_grade_creates_the_secret_once_and_it_is_never_copied(tmp_path):
    course = make_course(tmp_path / "course", secret=None)
    (tmp_path / "submitted" / "s001" / "unit1").mkdir(parents=True)   # nothing to run: no worker needed
    feedback, csv = tmp_path / "feedback", tmp_path / "grades.csv"
    first = grader(course, "grade", "unit1", "--submissions", str(tmp_path / "submitted"), "--feedback",
                   str(feedback), "--csv", str(csv))
    assert first.returncode == 0, first.stderr
    path = course / ".grader-secret"
    assert first.stderr.count("created a new course secret in") == 1
    assert f"created a new course secret in {path}; keep it: hidden checks depend on it" in first.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip()
    second = grader(course, "grade", "unit1", "--submissions", str(tmp_path / "submitted"), "--force", "--public")
    assert second.returncode == 0 and "created a new course secret" not in second.stderr
    assert secret not in first.stdout + first.stderr + second.stdout + second.stderr
    with_secret = [p for p in [*course.rglob("*"), *tmp_path.rglob("*")]
                   if p.is_file() and not p.is_symlink() and p != path and secret.encode() in p.read_bytes()]
    assert with_secret == []
    import sqlite3

    with sqlite3.connect(course / "gradebook.db") as db:
        options = [json.loads(o) for (o,) in db.execute("SELECT options FROM runs ORDER BY id")]
    assert [o["cases"] for o in options] == ["hidden", "public"]


def test_grade_says_how_to_get_a_secret_it_cannot_create(tmp_path):
    course = make_course(tmp_path / "course", '[grading]\nsecret_file = "course.toml/secret"', secret=None)
    (tmp_path / "submitted" / "s001" / "unit1").mkdir(parents=True)
    run = grader(course, "grade", "unit1", "--submissions", str(tmp_path / "submitted"))
    assert run.returncode == 2, run.stderr
    assert "cannot be created" in run.stderr and "copy the course secret" in run.stderr
    assert "Traceback" not in run.stderr
