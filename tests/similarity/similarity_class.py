"""A small class for the similarity tests: two copy pairs among independent work, a blank and a hostile student.

    ada  the reference, as a filled-in starter notebook      ben  ada's code disguised at level 5, a .py file
    cy   the "loops" style, notebook (independent)           dee  the "compact" style, .py (independent)
    fox  dee's code disguised at level 3, plus a function whose strings and file name are HTML
    eve  the untouched starter (nothing of her own)          "not an id!"  a folder that is no student id
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from similarity_calibration import as_notebook, styles  # noqa: E402
from similarity_disguise import disguise  # noqa: E402

HOSTILE_NAME = "<img src=x onerror=alert(1)>.py"
HOSTILE_CODE = ("\n\ndef shout(x):\n    banner = \"</pre><script>document.title='owned'</script>\"\n"
                "    return banner + str(x)\n")


def write_class(dest: Path) -> Path:
    """Write the class under dest/submitted and return that folder."""
    found = styles()
    sub = dest / "submitted"
    files = {
        "ada": ("work.ipynb", as_notebook(found["reference"])),
        "ben": ("solutions.py", disguise(found["reference"], 5, seed=3)),
        "cy": ("unit1.ipynb", as_notebook(found["loops"])),
        "dee": ("mine.py", found["compact"]),
        "fox": (HOSTILE_NAME, disguise(found["compact"], 3, seed=5) + HOSTILE_CODE),
    }
    for student, (name, text) in files.items():
        (sub / student / "unit1").mkdir(parents=True)
        (sub / student / "unit1" / name).write_text(text, encoding="utf-8")
    (sub / "eve" / "unit1").mkdir(parents=True)
    shutil.copy(ROOT / "exercises" / "unit1" / "shallow_networks.ipynb", sub / "eve" / "unit1")
    (sub / "not an id!" / "unit1").mkdir(parents=True)
    return sub
