"""shortest_float32 (computed in integers) gives exactly what formatting 1..9 digits gives."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modbus.codec import shortest_float32

F32_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]


def by_formatting(value: float) -> float:
    """The definition: the first of 1..9 significant digits that packs to the same float32."""
    if not math.isfinite(value) or value == 0.0 or abs(value) > F32_MAX:
        return value
    target = struct.pack(">f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if abs(candidate) <= F32_MAX and struct.pack(">f", candidate) == target:
            return candidate
    return value


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, 0xFFFFFFFF))
def test_every_float32_bit_pattern(bits: int) -> None:
    value = struct.unpack(">f", bits.to_bytes(4, "big"))[0]
    assert same(shortest_float32(value), by_formatting(value))


@pytest.mark.parametrize("value", [
    231.4, 0.1, 1 / 3, 0.125, 2.5, 1.25, 9.5, 0.95, 99.5, 1e-45, 1.4e-45, F32_MAX, -F32_MAX, -0.0, 0.0,
    float("inf"), float("nan"), 1e38, 1e-38, 123456789.0, -0.000123,
    *(float(10.0**e) for e in range(-45, 39)),
    *(a / 2**j for a in (-7, -3, -1, 1, 3, 5, 7, 11, 255) for j in range(0, 12)),
])
def test_edges(value: float) -> None:
    if math.isfinite(value) and abs(value) <= F32_MAX:
        value = struct.unpack(">f", struct.pack(">f", value))[0]  # the float32 nearest, as a device sends
    assert same(shortest_float32(value), by_formatting(value))
