"""`grader report` end to end on a small class whose numbers are known by construction.

Exercise verdicts are recorded as batch grading records them; quiz answers are real
answers.toml files graded by the quiz engine (so the stored answers are the real path).
Checks: distributions, per-check stages, mistake shares and anonymised examples, attention
(not graded, identical, late, similar), item analysis (difficulty, point-biserial,
distractors mapped back through each student's shuffled letters, wrong-answer groups),
the JSON and HTML outputs, escaping of hostile text, and clear errors for bad input.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.config import load_course
from grader.gradebook import Gradebook
from grader.quiz.bank import load_bank
from grader.quiz.batch import grade_quizzes
from grader.quiz.variants import make_variant
from grader.results import CheckResult, ExerciseResult, UnitResult

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
from make_examples import write_notebook  # noqa: E402
COURSE = load_course(ROOT)
UNIT = COURSE.unit("unit1")
HINT = "subtract the max along `dim` before `exp`"
HOSTILE = "got <script>document.title='owned'</script><img src=x onerror=alert(1)>"
CHOICE, NUMERIC = "sigmoid_max_slope", "delta_rule"
OTHERS = ["perceptron_output", "hinge_loss", "autoencoder_params"]   # integer questions: the rest of the quiz
ITEM = [1, 1, 1, 0, 0, 0]      # who gets CHOICE right
REST = [3, 2, 1, 2, 1, 0]      # how many OTHERS each gets right


def _result(softmax: str) -> UnitResult:
    """All exercises pass, but softmax: "ok", "overflow" (the hinted mistake, values stage) or "hostile" (raised)."""
    exercises = {ex.name: ExerciseResult(ex.name, ex.points, [CheckResult("case 1", True, "passed", stage=None),
                                                              CheckResult("case 2", True, "passed")])
                 for ex in UNIT.exercises}
    exercises["softmax"].checks = [CheckResult("large logits", True, "passed"), CheckResult("shape (4, 7)", True, "ok")]
    if softmax == "overflow":
        exercises["softmax"].checks = [
            CheckResult("large logits", False, f"got nan where a finite value was expected. Hint: {HINT}", hint=HINT,
                        stage="values"),
            CheckResult("shape (4, 7)", False, "got shape (4,), expected (4, 7)", stage="shape")]
    elif softmax == "hostile":
        exercises["softmax"].checks = [CheckResult("large logits", False, f"raised {HOSTILE}", stage="raised"),
                                       CheckResult("shape (4, 7)", False, "raised", stage="<b>forged</b>")]
    return UnitResult("unit1", exercises=exercises)


def _answers(student: str, right: bool, rest: int, numeric: str) -> str:
    """answers.toml: CHOICE right or its first wrong option (by text), `rest` of OTHERS right, NUMERIC as asked."""
    variant = make_variant(load_bank(ROOT / "quizzes" / "unit1.toml"), salt=COURSE.salt, student_id=student)
    q = variant.question(CHOICE)
    wrong = sorted((o for o in q.options if not o.correct), key=lambda o: o.text)[0]
    lines = [f'{CHOICE} = "({(q.answer if right else wrong.id).upper()})"']
    for qid in OTHERS[:rest]:
        lines.append(f"{qid} = {variant.question(qid).answer}")
    d = variant.question(NUMERIC)
    value = {"right": d.answer, "mistake": d.mistakes[0][0], "sign": -d.answer, "text": '"no idea"'}[numeric]
    lines.append(f"{NUMERIC} = {value}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A gradebook of 8 students: s1..s6 graded with quiz answers, s7 a copy of s1, s8 not gradable."""
    root = tmp_path_factory.mktemp("class")
    db = root / "gradebook.db"
    softmax = {"s1": "ok", "s2": "overflow", "s3": "ok", "s4": "overflow", "s5": "hostile", "s6": "overflow",
               "s7": "ok"}
    numeric = {"s1": "right", "s2": "right", "s3": "right", "s4": "mistake", "s5": "mistake", "s6": "sign"}
    folders = []
    with Gradebook(db) as gb:
        for i, student in enumerate(softmax):
            late = 3 * 3600.0 if student == "s3" else 0.0
            gb.record("unit1", student, _result(softmax[student]), status="graded",
                      content_hash="sha256:same" if student in ("s1", "s7") else f"sha256:{student}", spec_hash="x",
                      submitted_at="2026-11-21T02:59:00+00:00" if late else None, late_seconds=late,
                      penalty=1.5 if late else 0.0)
            if student in numeric:
                folder = root / "answers" / student
                folder.mkdir(parents=True)
                (folder / "answers.toml").write_text(_answers(student, bool(ITEM[i]), REST[i], numeric[student]))
                folders.append((student, folder))
        gb.record("unit1", "s8", UnitResult("unit1"), status="ungradable", content_hash="sha256:none",
                  spec_hash="x", error=f"unit1/{HOSTILE}.ipynb is not a readable notebook")
        folders.append(("s7", root / "answers" / "s7"))   # no answers.toml: recorded as no attempt
        (root / "answers" / "s7").mkdir()
        assert grade_quizzes(COURSE, UNIT, folders, gb) == 7
    sim = root / "similarity-unit1"
    sim.mkdir()
    (sim / "pairs.json").write_text(json.dumps({"pairs": [
        {"a": "s2", "b": "s4", "score": 0.93, "page": "pair-1.html"},
        {"a": "s5", "b": "<i>s6</i>", "score": 0.41, "page": "../../etc/passwd"}]}))
    (sim / "index.html").write_text("<p>pairs</p>")
    subs = root / "submitted"   # what s2, s4 and s6 (the overflow mistake) handed in, for the example's code
    for student in ("s2", "s4", "s6"):
        write_notebook(subs / student / "unit1" / "unit1.ipynb",
                       ["import torch", f"def softmax(z, dim=-1):\n    # {student} <wrote> this\n"
                                        "    return z.exp() / z.exp().sum(dim, keepdim=True)", "print('trained')"])
    out = root / "report.json"
    assert main(["--course", str(ROOT), "report", "unit1", "--gradebook", str(db), "--format", "json",
                 "--out", str(out), "--submissions", str(subs)]) == 0
    html_out = root / "report.html"
    assert main(["--course", str(ROOT), "report", "unit1", "--gradebook", str(db), "--out", str(html_out),
                 "--submissions", str(subs)]) == 0
    return {"root": root, "db": db, "data": json.loads(out.read_text()), "html": html_out.read_text()}


def test_class_numbers(made):
    data = made["data"]
    assert data["format"] == "dl-grader-class-report" and data["version"] == 1
    assert data["students"] == {"total": 8, "graded": 7, "not_graded": 1, "grader_error": 0}
    softmax = next(d for d in data["scores"]["exercises"] if d["name"] == "softmax")
    assert softmax["students"] == 8 and softmax["full"] == 3 and softmax["zero"] == 5
    assert sum(b["count"] for b in softmax["bins"]) == 8 and softmax["bins"][-1]["count"] == 3

    large = next(c for c in data["checks"] if c["check"] == "large logits")
    assert (large["students"], large["failed"], large["failure_rate"]) == (7, 4, round(4 / 7, 4))
    assert large["stages"] == {"values": 3, "raised": 1}
    shape = next(c for c in data["checks"] if c["check"] == "shape (4, 7)")
    assert shape["stages"] == {"shape": 3, "other": 1}          # a stage the grader does not know is "other"
    assert data["stages"]["softmax"] == {"values": 3, "shape": 3, "raised": 1, "other": 1}

    # three of seven graded students made the catalogued mistake; the example names nobody
    [mistake] = data["mistakes"]
    assert (mistake["exercise"], mistake["hint"], mistake["students"]) == ("softmax", HINT, 3)
    assert mistake["share"] == round(3 / 7, 4)
    example = mistake["example"]
    assert example["label"] == "example 1" and example["check"] == "large logits" and HINT in example["message"]
    assert not any(s in json.dumps({**example, "source": None}) for s in ("s2", "s4", "s6"))
    # with --submissions, the example student's own definition (and only it), as the cell holds it
    assert example["source"].startswith("# unit1.ipynb, cell 3\ndef softmax(z, dim=-1):\n    # s")
    assert example["source"].endswith("keepdim=True)") and "trained" not in example["source"]

    kinds = {(a["student"], a["kind"]) for a in data["attention"]}
    assert {("s8", "not graded"), ("s1", "identical"), ("s7", "identical"), ("s3", "late"),
            ("s2", "similar")} <= kinds
    assert ("s5", "similar") not in kinds     # 0.41: listed with the pairs, below the bar for attention
    late = next(a for a in data["attention"] if a["kind"] == "late")
    assert late["what"] == "handed in 3 h after the deadline; -1.5 points"   # as the batch summary says it
    assert sum(a["kind"] == "late" for a in data["attention"]) == 1


def test_item_analysis(made):
    quiz = made["data"]["quiz"]
    assert quiz["students"] == 6 and quiz["without_answers"] == 1
    q = {x["id"]: x for x in quiz["questions"]}
    choice = q[CHOICE]
    assert choice["difficulty"] == 0.5 and choice["answered"] == 6
    # the point-biserial by its textbook formula: (M1 - M0) / s * sqrt(p q), s over all students; the rest of
    # the quiz is the OTHERS right plus NUMERIC, which s1..s3 (those right on CHOICE) got right
    rest = [r + i for r, i in zip(REST, ITEM)]
    m1 = statistics.fmean(r for r, i in zip(rest, ITEM) if i)
    m0 = statistics.fmean(r for r, i in zip(rest, ITEM) if not i)
    expected = (m1 - m0) / statistics.pstdev(rest) * 0.5
    assert choice["discrimination"] == pytest.approx(expected, abs=1e-4) and expected == pytest.approx(0.7746, abs=1e-4)
    # each student's letters are shuffled; the counts are per option of the bank
    first_wrong = sorted((o for o in choice["options"] if o["correct"] == "never"), key=lambda o: o["text"])[0]
    key = next(o for o in choice["options"] if o["correct"] == "always")
    assert (key["chosen"], first_wrong["chosen"]) == (3, 3)
    assert sum(o["chosen"] for o in choice["options"]) == 6

    numeric = q[NUMERIC]
    assert numeric["difficulty"] == 0.5
    wrong = {w["answer"]: w["students"] for w in numeric["wrong_answers"]}
    assert wrong == {f"recognised mistake: {load_bank(ROOT / 'quizzes' / 'unit1.toml').question(NUMERIC).mistakes[0].hint}": 2,
                     "the key with the wrong sign": 1}
    sign = next(w for w in numeric["wrong_answers"] if w["answer"] == "the key with the wrong sign")
    assert float(sign["example"]["answer"]) == -float(sign["example"]["key"])
    # nobody answered this one: no difficulty, flagged, no crash
    assert q["tanh_derivative"]["difficulty"] == 0.0 and q["tanh_derivative"]["students"] == 6
    # the stored answers are the students' own (the gradebook's quiz_questions.answer)
    with Gradebook(made["db"], readonly=True) as gb:
        stored = {g.student: g.quiz for g in gb.grades("unit1")}
    assert stored["s6"]["questions"][CHOICE]["answer"].startswith("(")
    assert "answer" not in stored["s6"]["questions"]["tanh_derivative"]


def test_html_page_is_self_contained_and_escaped(made):
    page = made["html"]
    assert "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; " \
           "img-src data:\">" in page
    # a student's text (here a file name in a reason) stays text
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;document.title=&#x27;owned&#x27;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;forged&lt;/b&gt;" not in page            # an unknown stage is shown as "other"
    assert page.count("src='data:image/svg+xml;base64,") == 4   # total, exercises, stages, item map
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    # similarity: relative links to the pair page and the index; a page outside the folder gets no link
    assert "href='similarity-unit1/pair-1.html'" in page and "href='similarity-unit1/index.html'" in page
    assert "passwd" not in page and "&lt;i&gt;s6&lt;/i&gt;" in page
    assert "&lt;wrote&gt; this" in page and "<wrote>" not in page   # the example's code, as text
    assert "43% (3)" in page           # the mistake's share of graded students


def test_bad_input_is_a_clear_usage_error(made, tmp_path, capsys):
    root = made["root"]
    assert main(["--course", str(ROOT), "report", "unit1", "--gradebook", str(tmp_path / "none.db")]) == 2
    assert "no gradebook at" in capsys.readouterr().err
    bad = tmp_path / "sim"
    bad.mkdir()
    (bad / "pairs.json").write_text('{"pairs": [{"a": 1}]}')
    assert main(["--course", str(ROOT), "report", "unit1", "--gradebook", str(root / "gradebook.db"),
                 "--similarity", str(bad), "--format", "json", "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "is not a similarity result that can be read" in err and not (tmp_path / "r.json").exists()
    assert main(["--course", str(ROOT), "report", "unit2", "--gradebook", str(root / "gradebook.db")]) == 2
    assert "has no grades for unit2" in capsys.readouterr().err
    assert main(["--course", str(ROOT), "report", "unit1", "--gradebook", str(root / "gradebook.db"),
                 "--out", str(tmp_path)]) == 2
    assert "is a folder or a link" in capsys.readouterr().err
