"""Byte layouts written as `profile show` prints them (ABCD, CDAB, BADC, DCBA; 8 letters for 64 bits)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from drivers.modbus.cli.profile_cmd import byte_layout
from drivers.modbus.codec import decode_point, encode_point
from drivers.modbus.profile import Endian, IdentRegister, Point
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry
from tests.unit.profiles.profile_tree import write

SHIPPED = ProfileRegistry.load(DEFAULT_PROFILE_DIR, strict=True)


def point(**fields: object) -> Point:
    return Point.model_validate({"table": "holding", "address": 0, "type": "float32", **fields})


@pytest.mark.parametrize(
    "order,byte,word,registers",
    [
        # 1.0 as float32 is 3F 80 00 00 (A B C D); the registers are the wire bytes in pairs
        ("ABCD", "big", "big", [0x3F80, 0x0000]),
        ("CDAB", "big", "little", [0x0000, 0x3F80]),
        ("BADC", "little", "big", [0x803F, 0x0000]),
        ("DCBA", "little", "little", [0x0000, 0x803F]),
        ("cdab", "big", "little", [0x0000, 0x3F80]),
    ],
)
def test_four_letter_layouts(order: str, byte: str, word: str, registers: list[int]) -> None:
    p = point(order=order)
    assert (p.byte_order, p.word_order) == (Endian(byte), Endian(word))
    assert encode_point(p, 1.0) == registers and decode_point(p, registers) == 1.0
    assert byte_layout(p) == order.upper()


def test_eight_letter_layouts() -> None:
    # 1.0 as float64 is 3F F0 00 00 00 00 00 00
    cases = {"ABCDEFGH": [0x3FF0, 0, 0, 0], "GHEFCDAB": [0, 0, 0, 0x3FF0],
             "BADCFEHG": [0xF03F, 0, 0, 0], "HGFEDCBA": [0, 0, 0, 0xF03F]}
    for order, registers in cases.items():
        p = point(type="float64", order=order)
        assert encode_point(p, 1.0) == registers, order
        assert byte_layout(p) == order


def test_a_letter_layout_under_word_or_byte_order_names_both() -> None:
    assert (point(word_order="CDAB").byte_order, point(word_order="CDAB").word_order) == ("big", "little")
    assert (point(byte_order="BADC").byte_order, point(byte_order="BADC").word_order) == ("little", "big")
    assert point(type="int16", byte_order="BA").byte_order == "little"
    ident = IdentRegister.model_validate({"address": 0, "type": "uint32", "order": "CDAB"})
    assert ident.word_order == "little"


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"order": "ABDC"}, "not a byte layout of float32 (4 bytes): expected ABCD, CDAB, BADC, DCBA, or big/little"),
        ({"type": "uint64", "order": "CDAB"},
         "not a byte layout of uint64 (8 bytes): expected ABCDEFGH, GHEFCDAB, BADCFEHG, HGFEDCBA, or big/little"),
        ({"type": "uint16", "order": "ABCD"}, "not a byte layout of uint16 (2 bytes): expected AB, BA, or big/little"),
        ({"word_order": "bigg"}, "not a byte layout of float32"),
        ({"order": "big"}, "expected a byte layout such as ABCD or CDAB"),
        ({"table": "coil", "type": "bool", "order": "AB"}, "a coil bit value has no byte layout"),
        ({"order": "CDAB", "word_order": "big"}, "order: CDAB means word_order little, but word_order says big"),
        ({"order": "ABCD", "byte_order": "BADC"}, "order: ABCD and byte_order: BADC name different byte layouts"),
    ],
)
def test_a_wrong_layout_says_what_would_be_right(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        point(**fields)
    assert message in str(raised.value)


@pytest.mark.parametrize("profile_id", SHIPPED.ids())
def test_every_shipped_point_written_as_show_prints_it_loads_the_same(tmp_path: Path, profile_id: str) -> None:
    """Each point's byte/word order replaced by the `order:` letters `show` prints: the same profile."""
    shipped = SHIPPED.get(profile_id)
    data = shipped.model_dump(mode="json", exclude={"id", "extends"})
    rewritten_any = False
    for name, fields in data["points"].items():
        letters = byte_layout(shipped.points[name])
        if letters != "-" and fields["type"] != "string":
            del fields["byte_order"], fields["word_order"]
            fields["order"] = letters
            rewritten_any = True
    assert rewritten_any or all(p.table.is_bit for p in shipped.points.values())
    write(tmp_path, profile_id, orjson.dumps(data).decode())
    assert ProfileRegistry.load(tmp_path, strict=True).get(profile_id).points == shipped.points
