"""BCD values: the standard's formats, signs, strictness, and round trips (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.dlt645 import bcd
from drivers.dlt645.bcd import BcdError, DataFormat
from drivers.dlt645.frame import OFFSET, Frame, checksum, cut_frame, encode_frame
from drivers.dlt645.transaction import Corrupt, Whole

FORMATS = ["XXXXXX.XX", "XXX.X", "XXX.XXX", "XX.XXXX", "X.XXX", "XX.XX", "XXX", "XXXXXXXX", "XX"]


def fmt(text: str) -> DataFormat:
    return DataFormat.parse(text)


@pytest.mark.parametrize(
    ("text", "digits", "decimals", "size"),
    [("XXXXXX.XX", 8, 2, 4), ("XXX.X", 4, 1, 2), ("XXX.XXX", 6, 3, 3), ("XX.XXXX", 6, 4, 3),
     ("X.XXX", 4, 3, 2), ("XX.XX", 4, 2, 2), ("XXX", 3, 0, 2), ("NNNNNNNNNNNN", 12, 0, 6)],
)
def test_formats(text: str, digits: int, decimals: int, size: int) -> None:
    parsed = fmt(text)
    assert (parsed.digits, parsed.decimals, parsed.size) == (digits, decimals, size)


def test_bad_format_names_what_is_expected() -> None:
    with pytest.raises(ValueError, match=r"XXXXXX\.XX"):
        fmt("XX.X.X")


def test_the_briefs_items_with_their_scaling() -> None:
    # wire order, least significant byte first
    assert bcd.decode(fmt("XXXXXX.XX"), bytes.fromhex("78 56 34 12")) == 123456.78  # total active energy
    assert bcd.decode(fmt("XXX.X"), bytes.fromhex("05 23")) == 230.5  # phase voltage
    assert bcd.decode(fmt("XXX.XXX"), bytes.fromhex("34 12 00"), signed=True) == 1.234  # current
    assert bcd.decode(fmt("XXX.XXX"), bytes.fromhex("34 12 80"), signed=True) == -1.234  # reverse current
    assert bcd.decode(fmt("XX.XXXX"), bytes.fromhex("56 34 81"), signed=True) == -1.3456  # exporting power
    assert bcd.decode(fmt("X.XXX"), bytes.fromhex("50 89"), signed=True) == -0.95  # capacitive PF
    assert bcd.decode(fmt("XX.XX"), bytes.fromhex("98 49")) == 49.98  # frequency


def test_unsigned_item_keeps_its_top_digit() -> None:
    # 850000.00 kWh on a forward-energy register: the top digit 8 is a digit, not a sign
    assert bcd.decode(fmt("XXXXXX.XX"), bytes.fromhex("00 00 00 85")) == 850000.0
    assert bcd.decode(fmt("XXXXXX.XX"), bytes.fromhex("00 00 00 85"), signed=True) == -50000.0


def test_minus_zero_is_zero() -> None:
    value = bcd.decode(fmt("XX.XXXX"), bytes.fromhex("00 00 80"), signed=True)
    assert value == 0 and str(value) == "0.0"


@pytest.mark.parametrize("raw", ["1A 2B", "FF FF", "0A 00"])
def test_non_bcd_bytes_are_never_a_value(raw: str) -> None:
    with pytest.raises(BcdError, match="not BCD"):
        bcd.decode(fmt("XXX.X"), bytes.fromhex(raw))


def test_wrong_size_and_digits_beyond_the_format() -> None:
    with pytest.raises(BcdError, match="needs 2 bytes"):
        bcd.decode(fmt("XXX.X"), bytes.fromhex("05 23 00"))
    with pytest.raises(BcdError, match="more digits"):
        bcd.decode(fmt("XXX"), bytes.fromhex("00 11"))  # 1100 in a 3-digit item


def test_encode_refuses_what_the_format_cannot_hold() -> None:
    with pytest.raises(BcdError, match="outside"):
        bcd.encode(fmt("XXX.X"), 1000.0)
    with pytest.raises(BcdError, match="negative"):
        bcd.encode(fmt("XXX.X"), -1.0)
    with pytest.raises(BcdError, match="outside"):
        bcd.encode(fmt("XX.XXXX"), 80.0, signed=True)  # the sign bit leaves 0..79.9999
    assert bcd.encode(fmt("XX.XXXX"), 79.9999, signed=True) == bytes.fromhex("99 99 79")
    with pytest.raises(BcdError, match="not a finite number"):
        bcd.encode(fmt("XX.XX"), float("nan"))


def test_digit_strings() -> None:
    assert bcd.decode(fmt("NNNNNNNNNNNN"), bytes.fromhex("12 90 78 56 34 12")) == "123456789012"
    assert bcd.encode(fmt("hhmmss"), "235959") == bytes.fromhex("59 59 23")


def _value_in(format_text: str, signed: bool) -> st.SearchStrategy[tuple[DataFormat, int]]:
    parsed = fmt(format_text)
    limit = parsed.limit(signed)
    return st.integers(-limit if signed else 0, limit).map(lambda units: (parsed, units))


@st.composite
def formatted_values(draw: st.DrawFn) -> tuple[DataFormat, bool, int]:
    signed = draw(st.booleans())
    parsed, units = draw(st.sampled_from(FORMATS).flatmap(lambda text: _value_in(text, signed)))
    return parsed, signed, units


@settings(deadline=None)  # a loaded 2-core machine: no per-example deadline
@given(formatted_values())
def test_every_value_round_trips(case: tuple[DataFormat, bool, int]) -> None:
    parsed, signed, units = case
    value = units if parsed.decimals == 0 else units / 10**parsed.decimals
    raw = bcd.encode(parsed, value, signed)
    assert len(raw) == parsed.size
    assert bcd.decode(parsed, raw, signed) == value


@settings(deadline=None)  # a loaded 2-core machine: no per-example deadline
@given(st.sampled_from(FORMATS), st.booleans(), st.binary(min_size=1, max_size=4))
def test_any_bytes_decode_to_a_value_that_encodes_back_or_are_refused(text: str, signed: bool, raw: bytes) -> None:
    parsed = fmt(text)
    try:
        value = bcd.decode(parsed, raw, signed)
    except BcdError:
        return
    assert not isinstance(value, str)
    assert bcd.decode(parsed, bcd.encode(parsed, value, signed), signed) == value


@settings(deadline=None)  # a loaded 2-core machine: no per-example deadline
@given(
    st.binary(min_size=6, max_size=6),
    st.integers(0, 255),
    st.binary(max_size=60),
    st.sampled_from([b"", b"\xfe", b"\xfe\xfe\xfe\xfe"]),
)
def test_frames_round_trip_with_offset_and_checksum(address: bytes, control: int, data: bytes, preamble: bytes) -> None:
    wire = encode_frame(Frame(address, control, data), preamble)
    body = wire[len(preamble) : -2]
    assert wire[-2] == checksum(body) and wire[-1] == 0x16
    assert body[10:] == bytes((b + OFFSET) & 0xFF for b in data)
    cut = cut_frame(wire + b"\x68")  # a following byte is not part of it
    assert isinstance(cut, Whole) and cut.size == len(wire)
    assert cut.frame == Frame(address, control, data)


@settings(deadline=None)  # a loaded 2-core machine: no per-example deadline
@given(st.binary(min_size=1, max_size=40), st.integers(0, 11 + 40))
def test_any_flipped_byte_is_caught(data: bytes, position: int) -> None:
    wire = bytearray(encode_frame(Frame(b"\x01\x00\x00\x00\x00\x00", 0x91, data), b""))
    position %= len(wire)
    wire[position] ^= 0x5A
    cut = cut_frame(bytes(wire))
    # a shortened L may by chance land on a matching checksum, but never on the original frame
    assert not (isinstance(cut, Whole) and cut.frame == Frame(b"\x01\x00\x00\x00\x00\x00", 0x91, data))


def test_checksum_failure_is_reported_with_its_sender() -> None:
    wire = bytearray(encode_frame(Frame(bytes.fromhex("61 01 00 00 00 00"), 0x91, b"\x00\x01\x01\x02\x01\x10"), b""))
    wire[-2] ^= 1
    cut = cut_frame(bytes(wire))
    assert isinstance(cut, Corrupt) and cut.size == len(wire) and cut.sender == "000000000161"
