"""`grader similarity` end to end on a small class, and what it compares (similarity_class.py says who is who)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from similarity_class import ROOT, write_class  # noqa: E402

from grader.batch import content_hash  # noqa: E402
from grader.cli import main  # noqa: E402
from grader.gradebook import Gradebook  # noqa: E402
from grader.results import UnitResult  # noqa: E402
from grader.similarity import pages  # noqa: E402
from grader.similarity.report import RECOMMENDED  # noqa: E402
from grader.similarity.source import own_code, starter_statements, student_code  # noqa: E402

pytest.importorskip("copydetect")
STARTER = starter_statements(ROOT / "exercises" / "unit1")


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--course", str(ROOT), "similarity", "unit1", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_similarity_ranks_copies_first_and_writes_the_pages(tmp_path, capsys, monkeypatch):
    sub = write_class(tmp_path)
    out = tmp_path / "report"
    gradebook = tmp_path / "gradebook.db"
    with Gradebook(gradebook) as book:   # ada was graded from the files as they are; cy's changed since
        book.record("unit1", "ada", UnitResult("unit1"), status="graded",
                    content_hash=content_hash(sub / "ada" / "unit1")[0], spec_hash="s")
        book.record("unit1", "cy", UnitResult("unit1"), status="graded", content_hash="sha256:old", spec_hash="s")

    code, stdout, _ = _run(capsys, "--submissions", str(sub), "--out", str(out), "--json",
                           "--gradebook", str(gradebook))
    assert code == 0
    report = json.loads(stdout)
    assert report == json.loads((out / "pairs.json").read_text())

    # every pair of the five students with code, most similar first; the two copies on top, far above the rest
    pairs = report["pairs"]
    assert report["threshold"] is None and report["pair_count"] == len(pairs) == 10
    assert [p["score"] for p in pairs] == sorted((p["score"] for p in pairs), reverse=True)
    top = {frozenset((p["a"], p["b"])): p for p in pairs[:2]}
    assert set(top) == {frozenset({"ada", "ben"}), frozenset({"dee", "fox"})}
    assert all(p["score"] >= 0.7 for p in top.values())
    assert all(p["score"] < 0.35 for p in pairs[2:]), pairs
    assert report["clusters"] == [{"students": ["ada", "ben"], "highest": top[frozenset({"ada", "ben"})]["score"]},
                                  {"students": ["dee", "fox"], "highest": top[frozenset({"dee", "fox"})]["score"]}]
    assert report["cluster_threshold"] == RECOMMENDED

    # pages for the pairs at or above the threshold, linked by name; none for the others
    assert [p["page"] for p in pairs] == ["pair-1.html", "pair-2.html"] + [None] * 8
    assert sorted(p.name for p in out.iterdir()) == [".similarity.lock", "index.html", "pair-1.html", "pair-2.html",
                                                     "pairs.json"]
    fox = next(out / p["page"] for p in pairs[:2] if "fox" in (p["a"], p["b"])).read_text()
    assert "<mark class=" in fox and "<script>" not in fox and "&lt;/pre&gt;&lt;script&gt;" in fox
    assert "&lt;img src=x onerror=alert(1)&gt;.py" in fox and "<img" not in fox

    # a long list is cut on the index (pairs.json keeps every pair); folders that are no student id are named
    index = (out / "index.html").read_text()
    assert "7 less similar pairs" not in index and "Folders that are not student ids, not read: " in index
    monkeypatch.setattr(pages, "INDEX_ROWS", 3)
    assert "7 less similar pairs are not shown here; pairs.json lists them all." in pages.index_page(report)

    # the blank starter and the folder that is no student id are named, not compared
    assert report["skipped"] == [{"student": "eve", "why": "no code of their own (only the released starter, "
                                                           "or nothing readable)"}]
    assert report["not_students"] and "not an id!" in report["not_students"][0]
    students = report["students"]
    assert students["ada"]["graded"] and students["ada"]["changed_since_grading"] is False
    assert students["cy"]["changed_since_grading"] is True and students["ben"]["graded"] is False

    # the same scores in another process, whatever Python's hash seed (copydetect's own hash would change them)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    run = subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "similarity", "unit1",
                          "--submissions", str(sub), "--out", str(tmp_path / "again"), "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert [(p["a"], p["b"], p["score"]) for p in json.loads(run.stdout)["pairs"]] == \
        [(p["a"], p["b"], p["score"]) for p in pairs]

    # --threshold lists only what reaches it; a rerun into the same folder removes its stale pages
    code, stdout, _ = _run(capsys, "--submissions", str(sub), "--out", str(out), "--json", "--threshold", "0.9",
                           "--pages", "0")
    again = json.loads(stdout)
    assert code == 0 and again["threshold"] == 0.9 and all(p["score"] >= 0.9 for p in again["pairs"])
    assert all(p["page"] is None for p in again["pairs"])
    assert sorted(p.name for p in out.iterdir()) == [".similarity.lock", "index.html", "pairs.json"]

    # the terminal summary names the top pair, the clusters and says a flag is no verdict
    code, stdout, _ = _run(capsys, "--submissions", str(sub), "--out", str(out))
    assert code == 0 and "clusters at score >= 0.5:" in stdout and "not a verdict" in stdout
    assert "not compared: eve" in stdout


def test_similarity_usage_errors_lose_nothing(tmp_path, capsys):
    sub = write_class(tmp_path)
    code, _, err = _run(capsys, "--out", str(tmp_path / "o"))
    assert code == 2 and "--submissions DIR" in err
    code, _, err = _run(capsys, "--submissions", str(sub), "--threshold", "1.5")
    assert code == 2 and "between 0 and 1" in err
    code, _, err = _run(capsys, "--submissions", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert code == 2 and "is not a folder" in err
    code, _, err = _run(capsys, "--submissions", str(sub), "--gradebook", str(tmp_path / "none.db"),
                        "--out", str(tmp_path / "o"))
    assert code == 4 and "no gradebook at" in err
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    code, _, err = _run(capsys, "--submissions", str(sub), "--out", str(other))
    assert code == 2 and "already holds other files" in err
    assert [p.name for p in other.iterdir()] == ["mine.txt"] and (other / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "o").exists()


def test_what_is_compared_is_the_students_own_code(tmp_path):
    """The starter's statements and stubs, docstrings, comments, prints and grader lines go; layout is unified."""
    seen: set[str] = set()
    cell = ('from grader import check\nimport torch\n\ndef softmax(z, dim=-1):\n    """Softmax of z along dim."""\n'
            '    print("debug", z)  # remove later\n    e = (z - z.amax(dim, keepdim = True)).exp()\n'
            '    return e/e.sum(dim, keepdim=True)\n\ncheck("softmax")\n\n'
            'def delta_rule_update(w, x, target, lr):\n    """One Widrow-Hoff update."""\n'
            '    raise NotImplementedError("write delta_rule_update")\n')
    assert own_code(cell, STARTER, seen) == ("def softmax(z, dim=-1):\n    e = (z - z.amax(dim, keepdim=True)).exp()\n"
                                             "    return e / e.sum(dim, keepdim=True)")
    assert own_code(cell, STARTER, seen) == ""   # the same definition again (a notebook's copy) counts once
    assert own_code("def broken(:\n    pass  # kept as written\n", STARTER, set()) == \
        "def broken(:\n    pass  # kept as written"

    folder = tmp_path / "s" / "unit1"
    folder.mkdir(parents=True)
    (folder / "work.py").write_text("def f(x):\n    return x + 1\n")
    (folder / "work-Copy1.py").write_text("def f(x):\n    # the same, again\n    return x + 1\n")
    code = student_code("s", folder, STARTER)
    assert [p.origin for p in code.pieces] == ["work-Copy1.py"] and code.files == ["work-Copy1.py", "work.py"]
    assert code.text == "# work-Copy1.py\ndef f(x):\n    return x + 1\n\n"

    # what a student cannot make expensive: nesting past ast's visitors is kept as written, size is capped
    for depth in (900, 20000):   # parses but is too deep for the visitors; does not parse
        deep = "x = " + "-" * depth + "1\n"
        assert own_code(deep, STARTER, set()) == deep.strip()
    huge = tmp_path / "h" / "unit1"
    huge.mkdir(parents=True)
    (huge / "a.py").write_text("def f(x):\n    return x * 2\n")
    (huge / "b.py").write_text("\n".join(f"def g{i}(a):\n    return a * {i}" for i in range(9000)))
    code = student_code("h", huge, STARTER)
    assert [p.origin for p in code.pieces] == ["a.py"]
    assert code.problems == ["only the first 200,000 characters of code were compared (from b.py on, the rest was not)"]


def test_regions_pair_up_reordered_functions():
    """Adjacent copied functions are separate regions, each paired with its counterpart after reordering."""
    from grader.similarity.fingerprint import fingerprint, overlap
    from grader.similarity.regions import matching_regions

    f = "def f(scores, y):\n    n = scores.shape[0]\n    rows = torch.arange(n)\n    return scores[rows, y].mean()\n"
    g = "def g(z, dim):\n    e = (z - z.amax(dim, keepdim=True)).exp()\n    return e / e.sum(dim, keepdim=True)\n"
    a, b = fingerprint("a", f"# a.py\n{f}\n{g}"), fingerprint("b", f"# b.py\n{g}\n{f.replace('n = ', 'm = ').replace('(n)', '(m)')}")
    regions = matching_regions(a, b, overlap(a, b))
    text_a = [a.raw_code[s:e] for s, e in regions.a.T.tolist()]
    text_b = [b.raw_code[s:e] for s, e in regions.b.T.tolist()]
    assert len(text_a) == len(text_b) == 2   # not one block: cut where g starts
    assert "arange" in text_a[0] and "amax" in text_a[1] and "amax" in text_b[0] and "arange" in text_b[1]
    assert not any(t.lstrip().startswith("#") for t in text_a + text_b)   # the cell headers are not marked
    assert regions.a_partner == [1, 0] and regions.b_partner == [1, 0]


def test_the_bundled_example_class(tmp_path, capsys):
    """examples/submitted: every student there was built from the reference, so all who wrote code are alike."""
    code, stdout, _ = _run(capsys, "--submissions", str(ROOT / "examples" / "submitted"), "--out",
                           str(tmp_path / "out"), "--json")
    report = json.loads(stdout)
    assert code == 0 and report["compared"] == 9 and report["pair_count"] == 36
    assert [s["student"] for s in report["skipped"]] == ["eli"]   # the blank notebook: only the starter
    assert report["students"]["jo"]["files"] == ["shallow.py"]    # a .py file against notebooks
    with_code = [p for p in report["pairs"] if "ivo" not in (p["a"], p["b"])]
    assert min(p["score"] for p in with_code) > 0.8 and report["pairs"][0]["score"] == 1.0
    assert all(p["short"] for p in report["pairs"] if "ivo" in (p["a"], p["b"]))   # ivo's one exec cell
    assert report["clusters"] == [{"students": ["ada", "ben", "chen", "dana", "fay", "gus", "hana", "jo"],
                                   "highest": 1.0}]
