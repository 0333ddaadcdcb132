"""`grader export-gradescope unitN OUT.zip`: a Gradescope autograder bundle for one unit.

The zip (Gradescope unpacks it into /autograder/source) holds exactly what grading needs:

    setup.sh                  run once, as root, when Gradescope builds the image: a venv in
                              /autograder/venv with the pinned CPU torch and the grader wheel, the
                              sandbox's slot users, and /autograder/source closed to everyone but root
    run_autograder            run for each submission: grades /autograder/submission and writes
                              /autograder/results/results.json (grader.gradescope.run)
    wheels/dl_grader-*.whl    the grader itself
    scripts/setup-sandbox.sh  creates the slot users grader-slot0..N the sandbox runs student code as
    course/course.toml        this unit only: exercises, points, tolerances, limits
    course/.grader-secret     the bundle's own secret for the hidden checks, derived from the course
                              secret (HMAC per unit): the course secret itself never leaves this machine
    course/solutions/unitN/   references, checks and mistakes: the trusted side needs them
    course/exercises/unitN/   the released starters (an untouched starter is graded as such)

Nothing else: no other unit, no quiz bank or key (the quiz is not graded on Gradescope), no
gradebook. It is instructor-side (uploaded to Gradescope, never given to students), so the zip
is written with mode 0600.
"""
from __future__ import annotations

import hashlib
import hmac
import shlex
import tempfile
import zipfile
from pathlib import Path

from ..atomic import atomic_file
from ..config import Course, Unit
from ..errors import UsageError

SECRET_TAG = b"dl-grader gradescope bundle v1\0"
EXECUTABLE = ("setup.sh", "run_autograder")


def bundle_secret(course_secret: str, unit: Unit) -> str:
    """The secret the bundle's hidden checks are seeded from: per unit, and the course secret cannot be got back."""
    return hmac.new(course_secret.encode("utf-8"), SECRET_TAG + unit.id.encode("utf-8"), hashlib.sha256).hexdigest()


def build_bundle(course: Course, unit: Unit, out: Path, *, force: bool = False) -> list[str]:
    """Write the bundle to out (a .zip, mode 0600); returns the names it holds."""
    from ..release.build import _write_wheel, course_toml
    from ..secret import course_secret

    if out.suffix != ".zip":
        raise UsageError(f"{out} does not end in .zip", "Gradescope takes the autograder as a .zip file")
    if out.exists() and not force:
        raise UsageError(f"{out} exists", "give another name, or --force to replace it")
    secret = bundle_secret(course_secret(course, create=True), unit)
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as tmp:
        work = Path(tmp)
        wheel = _write_wheel(work / "wheels")
        if wheel is None:
            raise UsageError("the grader is not installed from its source tree, so it cannot be built as a wheel",
                             "run `grader export-gradescope` from the course's own checkout (scripts/setup.sh)")
        files: dict[str, bytes] = {f"wheels/{wheel}": (work / "wheels" / wheel).read_bytes()}
    files["setup.sh"] = setup_script(wheel, _packages(course)).encode()
    files["run_autograder"] = run_script(unit).encode()
    files["scripts/setup-sandbox.sh"] = (Path(__file__).resolve().parents[2] / "scripts" / "setup-sandbox.sh"
                                         ).read_bytes()
    toml = course_toml(course, [unit]).splitlines(keepends=True)
    toml[0] = f"# {course.name}: the Gradescope autograder of {unit.id}, made by `grader export-gradescope`.\n"
    files["course/course.toml"] = "".join(toml).encode()
    files["course/.grader-secret"] = (secret + "\n").encode()
    for kind in ("solutions", "exercises"):
        folder = course.root / kind / unit.id
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            rel = path.relative_to(folder)
            if path.is_file() and not any(p.startswith((".", "__pycache__")) for p in rel.parts):
                files[f"course/{kind}/{unit.id}/{rel.as_posix()}"] = path.read_bytes()
    _write_zip(out, files)
    return sorted(files)


def _packages(course: Course) -> list[str]:
    from ..environment import course_packages

    return list(course_packages(course.root))


def _write_zip(out: Path, files: dict[str, bytes]) -> None:
    """All or nothing: a 0600 temporary file in out's folder, then rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out, mode=0o600, binary=True) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            mode = 0o755 if name in EXECUTABLE else 0o600 if name.endswith(".grader-secret") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def _torch_pin() -> str:
    import torch

    return torch.__version__.split("+")[0]


def setup_script(wheel: str, packages: list[str]) -> str:
    """setup.sh: what Gradescope runs once, as root, to build the image (choose its Ubuntu 24.04 base image)."""
    extra = " ".join(shlex.quote(p) for p in packages)
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; made by `grader export-gradescope`.
# Needs Python >= 3.11: choose the Ubuntu 24.04 base image in the assignment's autograder settings.
set -euo pipefail
cd "$(dirname "$0")"   # /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq python3-venv libseccomp2 >/dev/null
python3 -m venv /autograder/venv
# the CPU build of torch, pinned to the version the course was graded with (a plain torch pulls CUDA)
/autograder/venv/bin/pip install --quiet --disable-pip-version-check \\
    --index-url https://download.pytorch.org/whl/cpu "torch=={_torch_pin()}"
/autograder/venv/bin/pip install --quiet --disable-pip-version-check "wheels/{wheel}" {extra}
bash scripts/setup-sandbox.sh
# the references and the bundle's secret: root only; student code runs as the grader-slotN users
chown -R root:root /autograder/source
chmod -R go-rwx /autograder/source
"""


def run_script(unit: Unit) -> str:
    """run_autograder: grade /autograder/submission into /autograder/results/results.json."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this for each submission, as root; made by `grader export-gradescope`.
# AUTOGRADER_ROOT (default /autograder) and GRADER_PYTHON (default its venv) let a test run it elsewhere.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{GRADER_PYTHON:-$root/venv/bin/python}}"
exec "$python" -m grader.gradescope.run --root "$root" --course "$root/source/course" --unit {shlex.quote(unit.id)}
"""
