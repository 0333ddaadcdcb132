import math
import struct

import numpy as np
import pytest

from grader.runner import wire
from grader.runner.wire import Array, WireError


def test_round_trip_keeps_structure_and_values():
    tree = {"loss": 1.5, "nan": float("nan"), "inf": float("-inf"), "pair": (1, "a"), "list": [None, True],
            "x": np.arange(6, dtype=np.float32).reshape(2, 3), "t": Array(np.zeros(2, dtype=np.float32), "bfloat16", "cuda")}
    back = wire.decode(wire.encode(tree))
    assert back["loss"] == 1.5 and math.isnan(back["nan"]) and back["inf"] == float("-inf")
    assert back["pair"] == (1, "a") and back["list"] == [None, True]
    assert back["x"].dtype == "float32" and back["x"].shape == (2, 3) and back["x"].data[1, 2] == 5
    assert back["t"].dtype == "bfloat16" and back["t"].device == "cuda"


@pytest.mark.parametrize("value", [object(), np.array([object()]), {1: 2}, np.zeros(2, dtype=np.complex64)])
def test_refuses_what_is_not_plain_data(value):
    with pytest.raises(WireError):
        wire.encode(value)


def _frame(header: bytes, blob: bytes = b"") -> bytes:
    return struct.pack("<II", len(header), len(blob)) + header + blob


@pytest.mark.parametrize("header,blob", [
    (b'{"tree": {"$a": 0}, "arrays": []}', b""),
    (b'{"tree": 1, "arrays": [{"dtype": "float32", "store": "object", "shape": [1], "offset": 0, "nbytes": 8, "device": "cpu"}]}', b"x" * 8),
    (b'{"tree": 1, "arrays": [{"dtype": "float32", "store": "float32", "shape": [4], "offset": 0, "nbytes": 16, "device": "cpu"}]}', b"x" * 8),
    (b'{"tree": NaN, "arrays": []}', b""),
    (b'{"tree": {"$evil": 1}, "arrays": []}', b""),
    (b'\x80\x04\x95', b""),
])
def test_rejects_forged_frames(header, blob):
    with pytest.raises(WireError):
        wire.decode(_frame(header, blob))


def test_reader_enforces_size_cap():
    import os

    r, w = os.pipe()
    os.write(w, struct.pack("<II", 10, 2**30))
    reader = wire.FrameReader(r, max_bytes=1024)
    with pytest.raises(WireError):
        reader.read(deadline=None)
    os.close(r), os.close(w)


def test_deep_nesting_is_rejected_not_a_crash():
    deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(WireError):
        wire.decode(_frame(b'{"tree": ' + deep + b', "arrays": []}'))
    nested = [1.0]
    for _ in range(70):
        nested = [nested]
    with pytest.raises(WireError):
        wire.decode(wire.encode(nested))
