"""Property tests: every type x byte order x word order round-trips through the codec."""

from __future__ import annotations

import math
import struct
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modbus.codec import INT_RANGE, decode_point, encode_point
from drivers.modbus.profile import REGISTER_COUNT, DataType, Endian, Point, Table

ORDERS = [(b, w) for b in Endian for w in Endian]
INT_TYPES = list(INT_RANGE)
FLOAT_TYPES = [DataType.FLOAT32, DataType.FLOAT64]


def make(type_: DataType, byte_order: Endian, word_order: Endian, **extra: object) -> Point:
    return Point.model_validate(
        {"table": "holding", "address": 0, "type": type_, "byte_order": byte_order, "word_order": word_order} | extra
    )


def words_of(type_: DataType) -> st.SearchStrategy[list[int]]:
    n = REGISTER_COUNT[type_]
    return st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n)


def is_nan_pattern(point: Point, words: list[int]) -> bool:
    value = decode_point(point, words)
    return isinstance(value, float) and math.isnan(value)


@pytest.mark.parametrize("byte_order,word_order", ORDERS)
@pytest.mark.parametrize("type_", INT_TYPES + FLOAT_TYPES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_words_roundtrip(type_: DataType, byte_order: Endian, word_order: Endian, data: st.DataObject) -> None:
    point = make(type_, byte_order, word_order)
    words = data.draw(words_of(type_))
    if is_nan_pattern(point, words):
        return  # NaN payloads are not preserved, NaN-ness is (tested below)
    assert encode_point(point, decode_point(point, words)) == words


@pytest.mark.parametrize("byte_order,word_order", ORDERS)
@pytest.mark.parametrize("type_", INT_TYPES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_int_values_roundtrip(type_: DataType, byte_order: Endian, word_order: Endian, data: st.DataObject) -> None:
    point = make(type_, byte_order, word_order)
    low, high = INT_RANGE[type_]
    value = data.draw(st.integers(low, high))
    words = encode_point(point, value)
    assert len(words) == point.register_count
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_point(point, words) == value


def _digits(value: float) -> int:
    """Significant decimal digits of the shortest repr (1e15 has one, though repr spells 16 zeros)."""
    return len(Decimal(repr(value)).normalize().as_tuple().digits)


@pytest.mark.parametrize("byte_order,word_order", ORDERS)
@settings(max_examples=80, deadline=None)
@given(value=st.floats(width=32, allow_nan=False))
def test_float32_values_roundtrip(byte_order: Endian, word_order: Endian, value: float) -> None:
    point = make(DataType.FLOAT32, byte_order, word_order)
    decoded = decode_point(point, encode_point(point, value))
    assert isinstance(decoded, float)
    # the same float32, written with the fewest digits (231.4, not 231.39999389648438)
    assert struct.pack(">f", decoded) == struct.pack(">f", value)
    assert _digits(decoded) <= _digits(value)
    assert encode_point(point, decoded) == encode_point(point, value)


@pytest.mark.parametrize("byte_order,word_order", ORDERS)
@settings(max_examples=80, deadline=None)
@given(value=st.floats(allow_nan=False))
def test_float64_values_roundtrip(byte_order: Endian, word_order: Endian, value: float) -> None:
    point = make(DataType.FLOAT64, byte_order, word_order)
    assert decode_point(point, encode_point(point, value)) == value


@pytest.mark.parametrize("type_", FLOAT_TYPES)
def test_nan_stays_nan(type_: DataType) -> None:
    point = make(type_, Endian.LITTLE, Endian.LITTLE)
    value = decode_point(point, encode_point(point, math.nan))
    assert isinstance(value, float) and math.isnan(value)


@pytest.mark.parametrize("byte_order,word_order", ORDERS)
@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 40),
    text=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
)
def test_strings_roundtrip(byte_order: Endian, word_order: Endian, length: int, text: str) -> None:
    point = make(DataType.STRING, byte_order, word_order, length=length)
    text = text[:length]
    words = encode_point(point, text)
    assert len(words) == (length + 1) // 2
    assert decode_point(point, words) == text


@pytest.mark.parametrize("type_", [DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32])
@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    scale=st.sampled_from([0.001, 0.01, 0.1, 0.5, 2.0, 10.0, 1 / 32768 * 180, -0.1]),
    offset=st.sampled_from([0.0, -40.0, 273.15, 0.5]),
)
def test_scale_offset_roundtrip(type_: DataType, data: st.DataObject, scale: float, offset: float) -> None:
    point = make(type_, Endian.BIG, Endian.LITTLE, scale=scale, offset=offset)
    low, high = INT_RANGE[type_]
    raw = data.draw(st.integers(low, high))
    words = _raw_words(raw, point)
    value = decode_point(point, words)
    assert math.isclose(float(value), raw * scale + offset, rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
    assert encode_point(point, value) == words


def _raw_words(raw: int, point: Point) -> list[int]:
    plain = point.model_copy(update={"scale": 1.0, "offset": 0.0})
    return encode_point(plain, raw)


def test_struct_reference_abcd_and_cdab() -> None:
    """Cross-check the layout against struct for the two word orders seen on real meters."""
    abcd = make(DataType.FLOAT32, Endian.BIG, Endian.BIG)
    cdab = make(DataType.FLOAT32, Endian.BIG, Endian.LITTLE)
    hi, lo = struct.unpack(">HH", struct.pack(">f", 230.5))
    assert decode_point(abcd, [hi, lo]) == 230.5
    assert decode_point(cdab, [lo, hi]) == 230.5


def test_bit_table_values() -> None:
    coil = Point(table=Table.COIL, address=3, type=DataType.BOOL, access="rw")  # type: ignore[arg-type]
    assert encode_point(coil, True) == [1]
    assert encode_point(coil, False) == [0]
    assert decode_point(coil, [1]) is True
    assert decode_point(coil, [0]) is False


@pytest.mark.parametrize("byte_order,word_order", ORDERS)
@pytest.mark.parametrize("value", [True, False])
def test_bool_in_a_register_roundtrips(byte_order: Endian, word_order: Endian, value: bool) -> None:
    point = make(DataType.BOOL, byte_order, word_order)
    words = encode_point(point, value)
    assert words == [int(value)]
    assert decode_point(point, words) is value
