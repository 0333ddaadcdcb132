"""The format of a release's check data: a JSON manifest and a numpy .npz of arrays.

checks/<unit>/manifest.json holds every public case of the unit: its name, driver, weight,
tolerances, timeout, seed and measurement, and its inputs, expected output and each
catalogued mistake's output as *trees*: JSON with the tags of the worker's wire format
(`{"$tuple": [...]}`, `{"$dict": {...}}`, `{"$f": "nan"}`) and, for a tensor,
`{"$a": KEY, "dtype": NAME, "device": DEVICE}`, whose values are the array KEY of
checks/<unit>/cases.npz. Keys are content hashes, so an array stored twice is stored once.
The .npz is read with `allow_pickle=False` from a dtype whitelist; its sha256 is in the
manifest and in release.json, and both are verified before anything is decoded.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..runner.wire import DTYPES, WIDENED, Array

CHECKS_FORMAT = "dl-grader-checks"
CHECKS_VERSION = 1
MAX_DEPTH = 64


class CaseFileError(ConfigError):
    """Check data that is missing, corrupt, edited or of another version (exit code 2)."""


# ---------------------------------------------------------------- trees -> JSON + arrays
class TreeWriter:
    """Encodes trees of plain data (runner.wire.Array leaves) as JSON, collecting their arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, value: Any) -> Any:
        """The JSON form of one tree; its arrays are kept in self.arrays under content-hash keys."""
        if value is None or isinstance(value, (bool, str)) or type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$f": repr(value)}
        if isinstance(value, (np.floating, np.integer, np.bool_)):
            return self.encode(value.item())
        if isinstance(value, np.ndarray):
            value = Array(value, str(value.dtype))
        if isinstance(value, Array):
            data = value.data if value.data.flags.c_contiguous else np.array(value.data, order="C")  # keeps 0-d
            if str(data.dtype) not in DTYPES:
                raise CaseFileError(f"an array of dtype {data.dtype} cannot be stored")
            header = f"{data.dtype}|{data.shape}|".encode()
            key = hashlib.sha256(header + data.tobytes()).hexdigest()[:24]
            self.arrays.setdefault(key, data)
            return {"$a": key, "dtype": value.dtype, "device": value.device}
        if type(value) is tuple:
            return {"$tuple": [self.encode(v) for v in value]}
        if type(value) is list:
            return [self.encode(v) for v in value]
        if type(value) is dict and all(type(k) is str for k in value):
            return {"$dict": {k: self.encode(v) for k, v in value.items()}}
        raise CaseFileError(f"a value of type {type(value).__name__} cannot be stored as check data")


def write_checks(folder: Path, manifest: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write cases.npz and manifest.json (which records the sha256 of cases.npz)."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **dict(sorted(arrays.items())))
    data = buffer.getvalue()
    (folder / "cases.npz").write_bytes(data)
    manifest = {"format": CHECKS_FORMAT, "version": CHECKS_VERSION, **manifest,
                "data": "cases.npz", "data_sha256": hashlib.sha256(data).hexdigest()}
    text = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    (folder / "manifest.json").write_text(text + "\n", encoding="utf-8")


# ---------------------------------------------------------------- reading, verified
def read_checks(folder: Path, checksums: dict[str, str], prefix: str) -> tuple[dict, TreeReader]:
    """The manifest of checks/<unit>/ and a reader for its trees, both verified against their checksums.

    `checksums` are release.json's (path -> sha256); `prefix` is the folder's path in them.
    Anything missing, edited, corrupt or of another version is a CaseFileError.
    """
    raw = _verified(folder / "manifest.json", checksums, f"{prefix}/manifest.json")
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_reject)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CaseFileError(f"{folder / 'manifest.json'} is not valid JSON ({exc}): take checks/ again from the release") from None
    if not isinstance(manifest, dict) or manifest.get("format") != CHECKS_FORMAT:
        raise CaseFileError(f"{folder / 'manifest.json'} is not a dl-grader check manifest")
    if manifest.get("version") != CHECKS_VERSION:
        raise CaseFileError(f"{folder / 'manifest.json'} has check data version {str(manifest.get('version'))[:20]}; "
                            f"this grader reads version {CHECKS_VERSION}: install the grader that came with the release")
    data = _verified(folder / "cases.npz", checksums, f"{prefix}/cases.npz")
    if hashlib.sha256(data).hexdigest() != manifest.get("data_sha256"):
        raise CaseFileError(f"{folder / 'cases.npz'} does not match the checksum in its manifest "
                            "(corrupt or edited): take checks/ again from the release")
    return manifest, TreeReader(_arrays(folder / "cases.npz", data), f"{prefix}/manifest.json")


def _verified(path: Path, checksums: dict[str, str], name: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CaseFileError(f"{path} is missing: take checks/ again from the release") from None
    except OSError as exc:
        raise CaseFileError(f"{path} cannot be read: {exc.strerror or exc}") from None
    want = checksums.get(name)
    if want is None:
        raise CaseFileError(f"release.json lists no checksum for {name}: take the release again")
    if hashlib.sha256(data).hexdigest() != want:
        raise CaseFileError(f"{path} does not match its checksum in release.json (corrupt or edited): "
                            "take it again from the release")
    return data


def _reject(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _arrays(path: Path, data: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CaseFileError(f"{path} cannot be read ({str(exc)[:120]}): take checks/ again from the release") from None
    for key, array in arrays.items():
        if str(array.dtype) not in DTYPES:
            raise CaseFileError(f"{path} holds an array of dtype {array.dtype} ({key})")
    return arrays


class TreeReader:
    """Decodes the JSON form of trees back into plain data, with the arrays of one cases.npz."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str = "check data") -> None:
        self.arrays = arrays
        self.source = source

    def _bad(self, what: str) -> CaseFileError:
        return CaseFileError(f"{self.source} is malformed ({what}): take checks/ again from the release")

    def decode(self, node: Any, *, device: str | None = None, depth: int = 0) -> Any:
        """The tree; with `device`, tensors stored on the CPU are said to be on that device."""
        if depth > MAX_DEPTH:
            raise self._bad(f"nested more than {MAX_DEPTH} levels deep")
        depth += 1
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.decode(v, device=device, depth=depth) for v in node]
        if not isinstance(node, dict):
            raise self._bad("a value of an unknown kind")
        if "$a" in node:
            return self._array(node, device)
        if "$f" in node:
            if node["$f"] not in ("nan", "inf", "-inf"):
                raise self._bad("a bad float")
            return float(node["$f"])
        if isinstance(node.get("$tuple"), list):
            return tuple(self.decode(v, device=device, depth=depth) for v in node["$tuple"])
        if isinstance(node.get("$dict"), dict):
            return {k: self.decode(v, device=device, depth=depth) for k, v in node["$dict"].items()}
        raise self._bad("an unknown tag")

    def _array(self, node: dict, device: str | None) -> Array:
        key, name, where = node.get("$a"), node.get("dtype"), node.get("device")
        if not isinstance(key, str) or key not in self.arrays or not isinstance(name, str) or not isinstance(where, str):
            raise self._bad(f"a bad array reference {str(key)[:40]!r}")
        data = self.arrays[key]
        if name != str(data.dtype) and WIDENED.get(name) != str(data.dtype):
            raise self._bad(f"array {key} is {data.dtype}, not {name[:20]}")
        if device is not None and where == "cpu":
            where = device
        return Array(data.copy(), name, where)
