"""The codec against published DL/T 645 frames, byte for byte.

Frames from:
- "DLT645-2007 规约 常见报文解析" V1.1 (2012, copied at https://hwhale.com/article/138066 from
  wenku.baidu.com/view/cc10838283d049649b66580d): meter 000000000161, energy and phase A voltage;
- Heyuan Intelligence ASDU-LS manual, screen 9-17 (https://manualshive.com/en/manual/heyuan-intelligence/asdu-ls/2128413?page=18):
  DL/T 645-1997, meter 000000000003, B611 phase A voltage;
- https://kaledl.com/down/1493168.html: DL/T 645-1997, meter "RS3430163" (address 000003430163) and
  meter 138000130754, 9010 forward active energy.
"""

from __future__ import annotations

import pytest

from drivers.dlt645.address import BROADCAST, WILDCARD, MeterAddress
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.di import DataId
from drivers.dlt645.frame import Frame, cut_frame, encode_frame
from drivers.dlt645.requests import read_address, read_data
from drivers.dlt645.transaction import Answer, Whole

METER_161 = MeterAddress.parse("161")


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def reply_value(request_di: str, fmt: str, reply: str, address: MeterAddress = METER_161) -> object:
    tx = read_data(address, DataId.parse(request_di), DataFormat.parse(fmt))
    cut = cut_frame(h(reply))
    assert isinstance(cut, Whole), cut
    verdict = tx.judge(cut.frame)
    assert isinstance(verdict, Answer), verdict
    return verdict.value


def test_read_forward_active_energy_2007_request_and_reply() -> None:
    tx = read_data(METER_161, DataId.parse("00 01 00 00"), DataFormat.parse("XXXXXX.XX"))
    assert tx.request == h("FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16")
    reply = "68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16"
    assert reply_value("00010000", "XXXXXX.XX", reply) == 0.26


@pytest.mark.parametrize(
    ("di", "reply", "value"),
    [
        ("00 02 00 00", "68 61 01 00 00 00 00 68 91 08 33 33 35 33 59 34 33 33 8C 16", 1.26),
        ("00 03 00 00", "68 61 01 00 00 00 00 68 91 08 33 33 36 33 59 33 34 33 8D 16", 100.26),
        ("00 04 00 00", "68 61 01 00 00 00 00 68 91 08 33 33 37 33 56 33 34 33 8B 16", 100.23),
    ],
)
def test_energy_replies_2007(di: str, reply: str, value: float) -> None:
    assert reply_value(di, "XXXXXX.XX", reply) == value


def test_read_phase_a_voltage_2007() -> None:
    tx = read_data(METER_161, DataId.parse("02 01 01 00"), DataFormat.parse("XXX.X"))
    assert tx.request == h("FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 34 34 35 17 16")
    assert reply_value("02 01 01 00", "XXX.X", "68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16") == 100.1


def test_read_phase_a_voltage_1997() -> None:
    meter = MeterAddress.parse("3")
    tx = read_data(meter, DataId.parse("B611"), DataFormat.parse("XXX"))
    assert tx.request == h("FE FE FE FE 68 03 00 00 00 00 00 68 01 02 44 E9 03 16")
    value = reply_value("B611", "XXX", "68 03 00 00 00 00 00 68 81 04 44 E9 33 34 EC 16", meter)
    assert value == 100 and isinstance(value, int)


def test_address_byte_order_matches_a_meter_number_1997() -> None:
    # "RS3430163": its address 000003430163 goes 63 01 43 03 00 00 on the wire
    meter = MeterAddress.parse("3430163")
    tx = read_data(meter, DataId.parse("9010"), DataFormat.parse("XXXXXX.XX"))
    assert tx.request[4:] == h("68 63 01 43 03 00 00 68 01 02 43 C3 83 16")


def test_energy_reply_1997() -> None:
    meter = MeterAddress.parse("138000130754")
    tx = read_data(meter, DataId.parse("9010"), DataFormat.parse("XXXXXX.XX"))
    assert tx.request[4:] == h("68 54 07 13 00 80 13 68 01 02 43 C3 DA 16")
    value = reply_value("9010", "XXXXXX.XX", "68 54 07 13 00 80 13 68 81 06 43 C3 34 33 33 33 2B 16", meter)
    assert value == 0.01


def test_read_address_request_and_reply() -> None:
    tx = read_address()
    assert tx.request == h("FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")
    reply = encode_frame(Frame(METER_161.wire, 0x93, METER_161.wire), preamble=b"")
    cut = cut_frame(reply)
    assert isinstance(cut, Whole)
    assert tx.judge(cut.frame) == Answer(METER_161)


def test_addresses() -> None:
    assert MeterAddress.parse("123456789012").wire == h("12 90 78 56 34 12")
    assert MeterAddress.from_wire(h("12 90 78 56 34 12")).digits == "123456789012"
    assert WILDCARD.wire == b"\xaa" * 6 and BROADCAST.is_broadcast
    assert MeterAddress.parse("AAAAAA123456").matches(MeterAddress.parse("000000123456"))
    assert not MeterAddress.parse("AAAAAA123456").matches(MeterAddress.parse("000000123457"))
    with pytest.raises(ValueError, match="12 digits"):
        MeterAddress.parse("12345678901X")
    with pytest.raises(ValueError, match="BCD"):
        MeterAddress.from_wire(h("1F 00 00 00 00 00"))


def test_data_identifiers() -> None:
    assert DataId.parse("02 01 01 00").wire == h("00 01 01 02")
    assert DataId.parse("0x02800002") == DataId(0x02800002, 4)
    assert DataId.parse("B611") == DataId(0xB611, 2) and DataId.parse("B611").wire == h("11 B6")
    assert str(DataId.parse("02800002")) == "02 80 00 02"
    with pytest.raises(ValueError, match="quoted string"):
        DataId.parse(2010100)  # type: ignore[arg-type]  # what YAML makes of an unquoted 02010100
    with pytest.raises(ValueError, match="8 hex digits"):
        DataId.parse("020101")
