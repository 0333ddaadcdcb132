"""Every starter notebook is built from its script, runs as Python, and checks every exercise."""
import json
import re

import pytest

from grader.notebook.collect import notebook_sources
from grader.notebook.magics import strip_magics

from helpers import COURSE, ROOT, notebook_script

UNITS = [u.id for u in COURSE.units]


@pytest.mark.parametrize("unit", UNITS)
def test_notebook_is_built_from_its_script(unit):
    script = notebook_script(unit)
    assert script.NOTEBOOK.parent == ROOT / "exercises" / unit
    assert script.NOTEBOOK.read_text(encoding="utf-8") == script.render(), \
        f"run `python scripts/notebooks/{unit}.py` after editing the script"


@pytest.mark.parametrize("unit", UNITS)
def test_notebook_has_a_check_cell_for_every_exercise(unit):
    text = notebook_script(unit).render()
    nb = json.loads(text)
    assert nb["nbformat"] == 4 and all("id" in c for c in nb["cells"])
    sources = [src for _, src in notebook_sources(text)]
    for source in sources:
        compile(strip_magics(source), "<cell>", "exec")
    checked = set(re.findall(r'check\("(\w+)"\)', "\n".join(sources)))
    assert checked == {e.name for e in COURSE.unit(unit).exercises}
