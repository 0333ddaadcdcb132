"""check() inside a real IPython shell: the verdict for the code the kernel has run so far."""
import os
import subprocess
import sys
import textwrap

from helpers import ROOT

DRIVER = textwrap.dedent('''
    import json, sys
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cells = json.loads(sys.stdin.read())
    results = []
    for cell in cells:
        outcome = shell.run_cell(cell, store_history=True)
        results.append(outcome.result)
    report = results[-1]
    print(json.dumps({"type": type(report).__name__, "passed": report.passed,
                      "html": report._repr_html_(), "text": repr(report)}))
''')


def run_in_ipython(cells, tmp_path):
    import json

    folder = tmp_path / "unit1"
    folder.mkdir()
    env = {**os.environ, "GRADER_COURSE": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", DRIVER], input=json.dumps(cells), cwd=folder, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_check_cell_sees_the_cells_run_so_far(tmp_path):
    reference = (ROOT / "solutions" / "unit1" / "shallow.py").read_text()
    cells = ["import torch\n%matplotlib --list", reference,
             "def softmax(z, dim=-1):\n    e = z.exp()\n    return e / e.sum(dim=dim, keepdim=True)",
             'from grader import check\ncheck("softmax")']
    report = run_in_ipython(cells, tmp_path)
    assert report["type"] == "CheckReport" and report["passed"] is False
    assert "<table>" in report["html"] and "logits of magnitude 1000" in report["html"]
    assert "subtract the max" in report["text"]


def test_check_cell_gives_the_command_line_verdict(tmp_path):
    reference = (ROOT / "solutions" / "unit1" / "shallow.py").read_text()
    report = run_in_ipython([reference, 'from grader import check\ncheck("softmax", "perceptron_forward")'],
                            tmp_path)
    assert report["passed"] is True
    assert "PASS softmax  2/2  (8/8 checks)" in report["text"]
    assert "PASS perceptron_forward  2/2  (12/12 checks)" in report["text"]
