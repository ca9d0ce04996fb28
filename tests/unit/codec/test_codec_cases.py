"""Codec behaviour on hand-checked values from real device maps, and its errors."""

from __future__ import annotations

import pytest

from drivers.modbus.codec import CodecError, decode_bits, decode_point, encode_point, raw_range
from drivers.modbus.profile import Point


def point(**fields: object) -> Point:
    return Point.model_validate({"table": "holding", "address": 0} | fields)


def test_renke_temperature_int16_x10_negative() -> None:
    # Renke: 0xFF9B = -101 -> -10.1 C
    temp = point(type="int16", scale=0.1, unit="C")
    assert decode_point(temp, [0xFF9B]) == -10.1
    assert encode_point(temp, -10.1) == [0xFF9B]


def test_unscaled_int_stays_int() -> None:
    value = decode_point(point(type="uint16"), [1234])
    assert value == 1234 and isinstance(value, int)


def test_scaled_int_is_trimmed_float() -> None:
    assert decode_point(point(type="uint16", scale=0.1), [2301]) == 230.1


def test_witmotion_angle_scaling() -> None:
    angle = point(type="int16", scale=180 / 32768, unit="deg")
    assert decode_point(angle, [0x4000]) == 90.0
    assert decode_point(angle, [0xC000]) == -90.0


def test_yosemitech_little_endian_float() -> None:
    # Yosemitech sends float32 as DCBA: bytes reversed; 7.0 = 0x40E00000 -> registers 0x0000, 0xE040
    ph = point(type="float32", byte_order="little", word_order="little")
    assert decode_point(ph, [0x0000, 0xE040]) == 7.0


def test_enum_label_and_unknown_raw() -> None:
    mode = point(type="uint16", enum={0: "off", 1: "on"}, access="rw")
    assert decode_point(mode, [1]) == "on"
    assert decode_point(mode, [7]) == 7
    assert encode_point(mode, "off") == [0]
    with pytest.raises(CodecError, match="not one of"):
        encode_point(mode, "dim")


def test_bitfield_raw_and_flags() -> None:
    status = point(type="bitfield", bits={0: "fault", 3: "door_open"})
    raw = decode_point(status, [0b1001])
    assert raw == 9
    assert decode_bits(status, 9) == {"fault": True, "door_open": True}
    assert decode_bits(status, 8) == {"fault": False, "door_open": True}


def test_string_strips_nul_and_spaces() -> None:
    name = point(type="string", length=8)
    assert decode_point(name, [0x5344, 0x4D31, 0x3230, 0x2000]) == "SDM120"
    assert encode_point(name, "SDM") == [0x5344, 0x4D00, 0, 0]


def test_wrong_length_raises() -> None:
    with pytest.raises(CodecError, match="takes 2 registers, got 1"):
        decode_point(point(type="float32"), [0])
    with pytest.raises(CodecError, match="takes 1 bit"):
        decode_point(point(table="coil", type="bool"), [1, 0])


def test_out_of_range_values_raise() -> None:
    with pytest.raises(CodecError, match="outside"):
        encode_point(point(type="uint16"), 70000)
    with pytest.raises(CodecError, match="outside"):
        encode_point(point(type="uint16", scale=0.1), -1)
    with pytest.raises(CodecError, match="outside"):
        encode_point(point(type="float32"), 1e39)
    with pytest.raises(CodecError, match="longer than 4 bytes"):
        encode_point(point(type="string", length=4), "too long")
    with pytest.raises(CodecError, match="expected a number"):
        encode_point(point(type="int16"), "12")
    with pytest.raises(CodecError, match="expected a boolean"):
        encode_point(point(table="coil", type="bool"), 2)
    with pytest.raises(CodecError, match=r"0\.\.65535"):
        decode_point(point(type="uint16"), [70000])


def test_raw_range() -> None:
    assert raw_range(point(type="uint16", scale=0.01)) == (0.0, 655.35)
    assert raw_range(point(type="int16", scale=-1.0)) == (-32767.0, 32768.0)
    assert raw_range(point(table="coil", type="bool")) == (0.0, 1.0)
    low, high = raw_range(point(type="float32"))
    assert low == -high and high > 3.4e38
    with pytest.raises(CodecError):
        raw_range(point(type="string", length=4))
