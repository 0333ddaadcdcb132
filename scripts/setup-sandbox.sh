#!/usr/bin/env bash
# Prepare this machine for sandboxed batch grading (idempotent, takes well under a second).
#
#  * creates the per-slot system users grader-slot0..N-1 (no home, no shell, no password),
#    one per parallel worker, so that workers cannot signal, ptrace or read each other and
#    RLIMIT_NPROC counts only one job;
#  * checks that libseccomp is loadable (pyseccomp is a project dependency; it needs libseccomp2).
#
# Nothing else on the host changes: the interpreter may stay under a 0700 home (pyenv in
# /root); each job's mount namespace re-exposes just the interpreter prefix to the slot user.
#
# Usage: scripts/setup-sandbox.sh [SLOTS]   (default: max(32, 4 x CPUs); env GRADER_SLOTS)
set -euo pipefail

slots="${1:-${GRADER_SLOTS:-}}"
if [[ -z "$slots" ]]; then
    cpus="$(nproc 2>/dev/null || echo 1)"
    slots=$(( 4 * cpus > 32 ? 4 * cpus : 32 ))
fi

if [[ "$(id -u)" != 0 ]]; then
    echo "setup-sandbox: not root; nothing to create (workers run as you, in a user namespace)." >&2
    exit 0
fi

nologin="$(command -v nologin || echo /usr/sbin/nologin)"
created=0
for (( i = 0; i < slots; i++ )); do
    user="grader-slot$i"
    if ! getent passwd "$user" >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" \
                --user-group --comment "grader sandbox slot $i" "$user"
        created=$(( created + 1 ))
    fi
done

if ! ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2'; then
    if command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp2 >/dev/null
    else
        echo "setup-sandbox: warning: libseccomp2 not found; the seccomp layer will be missing" >&2
    fi
fi

echo "setup-sandbox: $slots slot users ready ($created created)"
