"""The compiled per-point decoder (the poll hot path) answers exactly what ``decode_point`` answers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modbus.codec import CodecError, decode_point, point_decoder
from drivers.modbus.profile import Point

TYPES = ["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "bool", "bitfield"]


def outcome(fn: object, *args: object) -> object:
    try:
        value = fn(*args)  # type: ignore[operator]
    except CodecError as exc:
        return ("error", str(exc))
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(TYPES),
    st.sampled_from(["big", "little"]),
    st.sampled_from(["big", "little"]),
    st.sampled_from([1.0, 0.1, 0.01, 10.0, 2.5]),
    st.sampled_from([0.0, -40.0, 0.5]),
    st.lists(st.integers(0, 0xFFFF), min_size=0, max_size=5),
)
def test_same_value_or_error_as_decode_point(
    type_: str, byte_order: str, word_order: str, scale: float, offset: float, words: list[int]
) -> None:
    point = Point.model_validate({"table": "holding", "address": 3, "type": type_, "byte_order": byte_order,
                                  "word_order": word_order, "scale": scale, "offset": offset})
    assert outcome(point_decoder(point), words) == outcome(decode_point, point, words)


@pytest.mark.parametrize("fields, words", [
    ({"table": "coil"}, [1]),
    ({"table": "holding", "type": "string", "length": 6}, [0x4142, 0x4300, 0x2020]),
    ({"table": "holding", "type": "uint16", "enum": {1: "on", 2: "off"}}, [2]),
    ({"table": "holding", "type": "uint16", "enum": {1: "on"}}, [7]),
    ({"table": "holding", "type": "uint32"}, [1, 2, 3]),
    ({"table": "holding", "type": "uint16"}, [70000]),
])
def test_types_it_hands_back_to_decode_point(fields: dict[str, object], words: list[int]) -> None:
    point = Point.model_validate({"address": 0} | fields)
    assert outcome(point_decoder(point), words) == outcome(decode_point, point, words)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(TYPES),
    st.sampled_from([1.0, 0.1]),
    st.lists(st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4), min_size=1, max_size=6),
)
def test_one_decoder_over_a_series_of_polls(type_: str, scale: float, polls: list[list[int]]) -> None:
    """The decoder remembers its last registers (a value that did not move): repeats and changes in
    any order give what decode_point gives."""
    point = Point.model_validate({"table": "holding", "address": 3, "type": type_, "scale": scale})
    decode = point_decoder(point)
    width = point.register_count
    for words in [*polls, *polls[::-1], polls[0], polls[0]]:
        assert outcome(decode, words[:width]) == outcome(decode_point, point, words[:width])
