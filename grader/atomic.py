"""Files that appear whole or not at all: written beside their target, then renamed over it."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator


@contextmanager
def atomic_file(path: Path, *, mode: int = 0o644, binary: bool = False, fsync: bool = False) -> Iterator[IO[Any]]:
    """Yield a file in path's folder that replaces path when the block ends (and is removed if it raises)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.absolute().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, *, mode: int = 0o644, fsync: bool = False) -> Path:
    """Write text to path atomically: a reader (or a second grader) never sees half a file."""
    with atomic_file(path, mode=mode, fsync=fsync) as f:
        f.write(text)
    return Path(path)
