#!/usr/bin/env bash
# Set up everything the grader needs on a fresh machine: a virtual environment
# in .venv with the pinned CPU build of torch, the grader itself (editable) and
# the test tools, then the per-slot users for sandboxed batch grading.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
# torch is pinned: this wheel is the CPU build kept on local disk; an unpinned
# torch would pull a CUDA build of several GB. Any recent torch works with the code.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0" -e ".[test,cluster,similarity,nbgrader]"
# course.toml's [environment] packages: what this course's notebooks import beyond the grader's own
mapfile -t extra < <(.venv/bin/python -c 'import sys, tomllib; t = tomllib.load(open("course.toml", "rb")).get("environment", {}); print(*t.get("packages", []), sep="\n")' | sed '/^$/d')
if (( ${#extra[@]} )); then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${extra[@]}"
fi
bash scripts/setup-sandbox.sh >/dev/null
# headless Chromium for the browser tests of the HTML reports (tests/browser/); Debian's package, as root
if ! command -v chromium >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
        || echo "setup: could not install chromium; tests/browser/ will be skipped" >&2
fi
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
