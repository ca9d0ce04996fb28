"""Values as the device meant them: the shortest decimal that is still the same float32, and scaled
integers without binary noise (231.4, not 231.39999389648438 or 231.40000000000003)."""

from __future__ import annotations

import struct

import orjson
import pytest

from drivers.modbus.codec import decode_point, encode_point
from drivers.modbus.profile import Point


def point(**fields: object) -> Point:
    return Point.model_validate({"table": "input", "address": 0, **fields})


@pytest.mark.parametrize("written", [231.4, 0.1, 50.0, 49.98, 1234.567, -0.35, 1e-7, 3.4e38, 12345.678])
def test_float32_publishes_the_shortest_decimal(written: float) -> None:
    p = point(type="float32")
    value = decode_point(p, encode_point(p, written))
    assert orjson.dumps(value).decode() == orjson.dumps(written).decode()


def test_float32_from_the_wire() -> None:
    p = point(type="float32", word_order="little")
    assert decode_point(p, [0x6666, 0x4367]) == 231.4  # 0x43676666 is what a meter sends for 231.4 V
    assert struct.unpack(">f", bytes.fromhex("43676666"))[0] == 231.39999389648438  # what was published


def test_scaled_integers_take_the_decimals_of_the_scale() -> None:
    assert decode_point(point(type="uint16", scale=0.1), [2314]) == 231.4
    assert decode_point(point(type="int16", scale=0.01), [(-35) & 0xFFFF]) == -0.35
    assert decode_point(point(type="uint32", scale=0.001, offset=-40), [0, 63_123]) == 23.123
    assert decode_point(point(type="float32", scale=0.1), encode_point(point(type="float32", scale=0.1), 23.14)) \
        == 23.14


def test_every_float32_survives_the_shortening() -> None:
    from drivers.modbus.codec import shortest_float32

    for bits in range(0x3F800000, 0x3F800000 + 2000):
        f = struct.unpack(">f", bits.to_bytes(4, "big"))[0]
        assert struct.pack(">f", shortest_float32(f)) == struct.pack(">f", f)
    assert shortest_float32(float("inf")) == float("inf")
    assert shortest_float32(3.4028234663852886e38) <= 3.4028234663852886e38  # never past the largest float32
