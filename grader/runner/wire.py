"""Plain-data frames between the trusted grader and a worker.

A frame is ``<II`` (header length, blob length), a JSON header and a blob of raw
array bytes. Arrays are rebuilt with ``numpy.frombuffer`` from a whitelist of
dtypes; there is no pickle and no code path in decoding. Non-finite floats,
tuples and dicts are tagged so that the tree comes back exactly.
"""
from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

PREFIX = struct.Struct("<II")
MAX_FRAME = 64 * 1024 * 1024
MAX_DEPTH = 64  # nesting of lists, tuples and dicts in a tree
DTYPES = {
    "bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16,
    "int32": np.int32, "int64": np.int64, "float16": np.float16,
    "float32": np.float32, "float64": np.float64,
}
# dtypes numpy cannot hold travel as float32 and keep their name
WIDENED = {"bfloat16": "float32"}


class WireError(Exception):
    """A frame is malformed, too large, or of a forbidden type."""


@dataclass(frozen=True)
class Array:
    """A tensor as plain data: values, the dtype name it had, and its device."""

    data: np.ndarray
    dtype: str
    device: str = "cpu"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)


def encode(tree: Any, convert: Callable[[Any], Array | None] | None = None) -> bytes:
    """Encode a tree of plain values and arrays into one frame."""
    arrays: list[bytes] = []
    metas: list[dict] = []
    offset = 0

    def visit(value: Any) -> Any:
        nonlocal offset
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$f": repr(value)}
        if isinstance(value, np.ndarray):
            value = Array(value, str(value.dtype))
        if isinstance(value, Array):
            data = value.data if value.data.flags.c_contiguous else np.array(value.data, order="C")  # keeps 0-d
            if str(data.dtype) not in DTYPES:
                raise WireError(f"arrays of dtype {data.dtype} cannot be sent")
            raw = data.tobytes()
            metas.append({"dtype": value.dtype, "store": str(data.dtype), "shape": list(data.shape),
                          "offset": offset, "nbytes": len(raw), "device": value.device})
            arrays.append(raw)
            offset += len(raw)
            return {"$a": len(metas) - 1}
        if type(value) is tuple:
            return {"$tuple": [visit(v) for v in value]}
        if type(value) is list:
            return [visit(v) for v in value]
        if type(value) is dict:
            if not all(type(k) is str for k in value):
                raise WireError("dict keys must be strings")
            return {"$dict": {k: visit(v) for k, v in value.items()}}
        if isinstance(value, (np.floating, np.integer, np.bool_)):
            return visit(value.item())
        converted = convert(value) if convert else None
        if converted is None:
            raise WireError(f"cannot send a value of type {type(value).__name__}")
        return visit(converted)

    tree = visit(tree)
    try:   # UTF-8 keeps non-ASCII text at its size (\\uXXXX escapes would triple it)
        header = json.dumps({"tree": tree, "arrays": metas}, allow_nan=False, ensure_ascii=False).encode()
    except UnicodeEncodeError:   # lone surrogates: only escapes can carry them
        header = json.dumps({"tree": tree, "arrays": metas}, allow_nan=False).encode()
    blob = b"".join(arrays)
    if len(header) + len(blob) > MAX_FRAME:
        raise WireError("frame too large")
    return PREFIX.pack(len(header), len(blob)) + header + blob


def decode(frame: bytes) -> Any:
    """Decode one frame (without its prefix check) back into a tree."""
    if len(frame) < PREFIX.size:
        raise WireError("short frame")
    hlen, blen = PREFIX.unpack_from(frame)
    if PREFIX.size + hlen + blen != len(frame):
        raise WireError("frame length mismatch")
    try:
        header = json.loads(frame[PREFIX.size:PREFIX.size + hlen], parse_constant=_reject)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WireError(f"bad header: {exc}") from exc
    blob = memoryview(frame)[PREFIX.size + hlen:]
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
        raise WireError("bad header")
    arrays = [_array(meta, blob) for meta in header["arrays"]]
    return _rebuild(header.get("tree"), arrays, 0)


def _reject(name: str) -> Any:
    raise WireError(f"non-standard JSON constant {name}")


def _array(meta: Any, blob: memoryview) -> Array:
    try:
        store = DTYPES[meta["store"]]
        shape = tuple(int(s) for s in meta["shape"])
        offset, nbytes = int(meta["offset"]), int(meta["nbytes"])
        name, device = str(meta["dtype"]), str(meta["device"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"bad array metadata: {exc}") from exc
    if name not in DTYPES and WIDENED.get(name) != meta["store"]:
        raise WireError(f"unexpected dtype {name}")
    count = math.prod(shape)
    if any(s < 0 for s in shape) or count * np.dtype(store).itemsize != nbytes:
        raise WireError("array size does not match its shape")
    if offset < 0 or offset + nbytes > len(blob):
        raise WireError("array outside the frame")
    data = np.frombuffer(blob[offset:offset + nbytes], dtype=store).reshape(shape).copy()
    return Array(data, name, device[:32])


def _rebuild(node: Any, arrays: list[Array], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"the result is nested more than {MAX_DEPTH} levels deep")
    depth += 1
    if isinstance(node, list):
        return [_rebuild(v, arrays, depth) for v in node]
    if isinstance(node, dict):
        if "$a" in node:
            index = node["$a"]
            if type(index) is not int or not 0 <= index < len(arrays):
                raise WireError("bad array reference")
            return arrays[index]
        if "$f" in node:
            if node["$f"] not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(node["$f"])
        if "$tuple" in node:
            return tuple(_rebuild(v, arrays, depth) for v in node["$tuple"])
        if "$dict" in node and isinstance(node["$dict"], dict):
            return {k: _rebuild(v, arrays, depth) for k, v in node["$dict"].items()}
        raise WireError("bad tagged value")
    return node


def write_frame(fd: int, frame: bytes, deadline: float | None = None) -> None:
    """Write a whole frame to fd; with a deadline (time.monotonic()), raise TimeoutError when it passes.

    A reader that stops reading (a stuck or hostile worker) must not block the grader forever.
    """
    view = memoryview(frame)
    if deadline is None:
        while view:
            view = view[os.write(fd, view):]
        return
    blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    try:
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the reader did not take the frame in time")
            if not select.select([], [fd], [], left)[1]:
                continue
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue
    finally:
        os.set_blocking(fd, blocking)


class FrameReader:
    """Reads frames from a pipe with deadlines and a size cap."""

    def __init__(self, fd: int, max_bytes: int = MAX_FRAME) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self.closed = False

    def read(self, deadline: float | None) -> bytes | None:
        """Return the next frame, None at the deadline; raise EOFError when closed."""
        while True:
            frame = self._take()
            if frame is not None:
                return frame
            if self.closed:
                raise EOFError("worker closed its pipe")
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.closed = True
            self.buffer += chunk

    def _take(self) -> bytes | None:
        if len(self.buffer) < PREFIX.size:
            return None
        hlen, blen = PREFIX.unpack_from(self.buffer)
        total = PREFIX.size + hlen + blen
        if total > self.max_bytes:
            raise WireError(f"frame of {total} bytes is over the {self.max_bytes}-byte limit")
        if len(self.buffer) < total:
            return None
        frame = bytes(self.buffer[:total])
        del self.buffer[:total]
        return frame
