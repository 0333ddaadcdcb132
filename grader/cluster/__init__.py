"""Grading on a Dask distributed cluster (`grader grade --cluster ADDRESS|local:N`).

This process (the client) discovers, plans and records; each Dask worker process runs
our sandbox (a zygote of its own, leased slot users) and grades one student per task.
Dask is an optional extra: `pip install dl-grader[cluster]`.
"""
from __future__ import annotations

from ..errors import UsageError

INSTALL_HINT = 'install the optional extra: pip install "dl-grader[cluster]" (or scripts/setup.sh)'


def require_distributed() -> None:
    """A usage error with a hint when Dask distributed is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("--cluster needs Dask distributed, which is not installed", INSTALL_HINT) from None


def open_cluster(address: str, course, options, *, on_note=None):  # noqa: ANN001, ANN201
    """Connect to the cluster at address (or start local:N); a `LauncherChoice` whose launcher grades there."""
    require_distributed()
    from .pool import open_cluster as _open

    return _open(address, course, options, on_note=on_note)
