"""The course secret: it seeds the hidden checks that decide grades, and never leaves the instructor's machine.

course.toml's [grading] names where it is (`secret_file`, relative to the course root, or
`secret_env`), never the secret itself. `grader grade` creates the file, random and mode
0600, the first time it is missing. The secret is only ever hashed into case seeds
(grader.checking.case_seed) and, as a fingerprint, into the gradebook's spec hash.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Callable

from .config import Course
from .errors import ConfigError

SECRET_BYTES = 32
MAX_SECRET_CHARS = 4096
CREATED = "created a new course secret in {path}; keep it: hidden checks depend on it"


def secret_path(course: Course) -> Path | None:
    """The file [grading] secret_file names (None when only an environment variable is named)."""
    name = course.grading.secret_file
    if name is None:
        return None
    path = Path(name).expanduser()
    return path if path.is_absolute() else course.root / path


def course_secret(course: Course, *, create: bool = False, say: Callable[[str], None] | None = None) -> str:
    """The course secret: from the environment variable when set, else from the file.

    With create=True a missing file is created (32 random bytes as hex, mode 0600) and
    say(message) is told once. Raises ConfigError, with how to get the secret, when there is none.
    """
    if course.release is not None:
        raise ConfigError("a student release has no course secret: hidden checks run only in the instructor's "
                          "course", "`grader check` runs the public checks here")
    env = course.grading.secret_env
    if env and os.environ.get(env, "").strip():
        return _valid(os.environ[env].strip(), f"${env}")
    path = secret_path(course)
    if path is None:
        raise ConfigError(f"the course secret is not set: course.toml names the environment variable {env}",
                          f"export {env}=... with the course's secret (the same one every time: hidden checks "
                          "depend on it)")
    try:
        return _valid(_read(path), str(path))
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as exc:   # a link (never followed), no permission, not a file
        raise ConfigError(f"the course secret in {path} cannot be read: {exc.strerror or exc}",
                          "it must be a regular file that this user can read (mode 0600)") from exc
    how = (f"copy the course secret from the machine that graded before to {path} (mode 0600)"
           + (f", or export {env}" if env else "")
           + "; a new secret gives new hidden checks, so grades made with the old one would change")
    if not create:
        raise ConfigError(f"no course secret at {path}", how)
    try:
        created = _create(path)
    except OSError as exc:
        raise ConfigError(f"no course secret at {path}, and it cannot be created: {exc.strerror or exc}",
                          how) from exc
    if created and say:   # (else another grader created it just now)
        say(CREATED.format(path=path))
    return _valid(_read(path), str(path))


def secret_fingerprint(secret: str) -> str:
    """A digest that tells secrets apart without revealing them (for the gradebook's spec hash)."""
    return hashlib.sha256(b"dl-grader secret fingerprint v1\0" + secret.encode("utf-8")).hexdigest()[:16]


def _read(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_SECRET_CHARS + 1)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"the course secret in {path} is not text") from None


def _create(path: Path) -> bool:
    """Write a new random secret (mode 0600); False when the file appeared meanwhile."""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_hex(SECRET_BYTES) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def _valid(secret: str, where: str) -> str:
    if not secret:
        raise ConfigError(f"the course secret in {where} is empty",
                          "restore it from a backup; a new secret gives new hidden checks")
    if len(secret) > MAX_SECRET_CHARS:
        raise ConfigError(f"the course secret in {where} is longer than {MAX_SECRET_CHARS} characters")
    return secret
