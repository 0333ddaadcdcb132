"""The files of a release, its release.json, and the course version a notebook was made for.

Light on imports: grader.config reads release.json through this module.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError

FORMAT = "dl-grader-release"
FORMAT_VERSION = 1
RELEASE_FILE = "release.json"
CHECKS_DIR = "checks"            # checks/<unit>/manifest.json + cases.npz
MANIFEST_FILE = "manifest.json"
DATA_FILE = "cases.npz"
WHEEL_DIR = "wheels"
NOTEBOOK_KEY = "dl_grader"       # a notebook's metadata.dl_grader.course_version


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(files: dict[str, str]) -> str:
    """One sha256 over every file's path and sha256: names what a release ships."""
    return sha256_bytes("".join(f"{path}\0{sha}\n" for path, sha in sorted(files.items())).encode())


def read_release_json(path: Path) -> dict[str, Any]:
    """The parsed release.json of a student release; ConfigError when it is unreadable or of another format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}", "take release.json again from the release") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a dl-grader release file")
    if data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path} has release format version {data.get('format_version')!r}; "
                          f"this grader reads version {FORMAT_VERSION}", "install the grader that came with the release")
    files = data.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ConfigError(f"{path} has no valid list of files")
    return data


def notebook_version(metadata: Any) -> str | None:
    """The course version a notebook's metadata names (metadata.dl_grader.course_version), if any."""
    if isinstance(metadata, dict) and isinstance(metadata.get(NOTEBOOK_KEY), dict):
        version = metadata[NOTEBOOK_KEY].get("course_version")
        if isinstance(version, str) and version:
            return version
    return None


def version_notes(course_version: str, versions: dict[str, str]) -> list[str]:
    """A note for each notebook made for another version of the course than this one."""
    from ..report.safe import clip, printable

    if not course_version:
        return []
    return [f"{name} was made for course version {clip(printable(version), 40)}, not {course_version}: "
            "compare it with this version's notebook if a check seems wrong"
            for name, version in versions.items() if version != course_version]
