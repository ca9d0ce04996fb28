"""Does a frame answer this request? Address echo, control code, abnormal replies, DI echo, length."""

from __future__ import annotations

from datetime import datetime

import pytest

from agent.errors import DeviceException
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.codes import Edition, ErrorKind, error_byte, error_kinds
from drivers.dlt645.di import DataId
from drivers.dlt645.errors import AbnormalReply
from drivers.dlt645.frame import Frame, cut_frame
from drivers.dlt645.requests import (
    Password,
    RelayCommand,
    broadcast_time,
    read_address,
    read_data,
    relay_control,
)
from drivers.dlt645.transaction import Answer, Damaged, Refusal, Stray, Whole

METER = MeterAddress.parse("000000000001")
OTHER = MeterAddress.parse("000000000002")
VOLTAGE = DataId.parse("02 01 01 00")
CURRENT = DataId.parse("02 02 01 00")



def judge(frame: Frame) -> object:
    tx = read_data(METER, VOLTAGE, DataFormat.parse("XXX.X"))
    return tx.judge(frame)


def test_the_reply_becomes_the_value() -> None:
    assert judge(Frame(METER.wire, 0x91, VOLTAGE.wire + bytes.fromhex("05 23"))) == Answer(230.5)


def test_a_reply_from_another_meter_is_stray_not_own() -> None:
    verdict = judge(Frame(OTHER.wire, 0x91, VOLTAGE.wire + bytes.fromhex("05 23")))
    assert isinstance(verdict, Stray) and not verdict.own and "000000000002" in verdict.reason


def test_a_late_reply_for_another_item_of_the_same_meter_is_stray() -> None:
    verdict = judge(Frame(METER.wire, 0x91, CURRENT.wire + bytes.fromhex("00 05 00")))
    assert isinstance(verdict, Stray) and verdict.own and "02 02 01 00" in verdict.reason


def test_our_own_request_heard_back_is_not_a_reply() -> None:
    verdict = judge(Frame(METER.wire, 0x11, VOLTAGE.wire))
    assert isinstance(verdict, Stray) and not verdict.own


def test_another_function_is_stray() -> None:
    verdict = judge(Frame(METER.wire, 0x94, b""))
    assert isinstance(verdict, Stray) and verdict.own and "0x14" in verdict.reason


def test_wrong_length_and_bad_bcd_are_damaged_never_values() -> None:
    assert isinstance(judge(Frame(METER.wire, 0x91, VOLTAGE.wire + bytes.fromhex("05 23 00"))), Damaged)
    assert isinstance(judge(Frame(METER.wire, 0x91, VOLTAGE.wire + bytes.fromhex("0A 23"))), Damaged)


@pytest.mark.parametrize(
    ("byte", "kinds"),
    [
        (0x01, (ErrorKind.OTHER,)),
        (0x02, (ErrorKind.NO_DATA,)),
        (0x04, (ErrorKind.UNAUTHORISED,)),
        (0x08, (ErrorKind.BAUD_UNCHANGEABLE,)),
        (0x10, (ErrorKind.YEAR_ZONES_EXCEEDED,)),
        (0x20, (ErrorKind.DAY_PERIODS_EXCEEDED,)),
        (0x40, (ErrorKind.TARIFFS_EXCEEDED,)),
        (0x06, (ErrorKind.NO_DATA, ErrorKind.UNAUTHORISED)),
        (0x80, (ErrorKind.RESERVED,)),
    ],
)
def test_abnormal_replies_are_typed_errors(byte: int, kinds: tuple[ErrorKind, ...]) -> None:
    verdict = judge(Frame(METER.wire, 0xD1, bytes([byte])))
    assert isinstance(verdict, Refusal)
    error = verdict.error
    assert isinstance(error, AbnormalReply) and isinstance(error, DeviceException)
    assert error.kinds == kinds and error.exception_code == byte and error.function_code == 0x11
    assert error.device == "meter 000000000001"


def test_1997_error_bits_differ() -> None:
    assert error_kinds(0x02, Edition.V1997) == (ErrorKind.UNKNOWN_DI,)
    assert error_kinds(0x01, Edition.V1997) == (ErrorKind.ILLEGAL_DATA,)
    assert error_byte([ErrorKind.NO_DATA]) == 0x02
    tx = read_data(METER, DataId.parse("B611"), DataFormat.parse("XXX"))
    verdict = tx.judge(Frame(METER.wire, 0xC1, b"\x02"))
    assert isinstance(verdict, Refusal) and isinstance(verdict.error, AbnormalReply)
    assert verdict.error.kinds == (ErrorKind.UNKNOWN_DI,)


def test_follow_up_flag_is_not_taken() -> None:
    assert isinstance(judge(Frame(METER.wire, 0xB1, VOLTAGE.wire + bytes.fromhex("05 23"))), Stray)


def test_read_address_takes_any_meter_but_checks_it_says_itself() -> None:
    tx = read_address()
    assert tx.judge(Frame(OTHER.wire, 0x93, OTHER.wire)) == Answer(OTHER)
    assert isinstance(tx.judge(Frame(OTHER.wire, 0x93, METER.wire)), Damaged)
    assert isinstance(tx.judge(Frame(OTHER.wire, 0x91, OTHER.wire)), Stray)


def test_broadcast_time_sync_frame() -> None:
    tx = broadcast_time(datetime(2026, 12, 7, 17, 30, 5))
    assert not tx.expects_reply
    # 68 99x6 68 08 06 then ss mm hh DD MM YY (+33 each): 05 30 17 07 12 26
    cut = cut_frame(tx.request)
    assert isinstance(cut, Whole)
    assert cut.frame == Frame(b"\x99" * 6, 0x08, bytes.fromhex("05 30 17 07 12 26"))
    assert tx.request[4:16] == bytes.fromhex("68 99 99 99 99 99 99 68 08 06 38 63")


def test_relay_control_frame_and_reply() -> None:
    tx = relay_control(
        METER, RelayCommand.TRIP, datetime(2026, 12, 31, 23, 59, 0), Password(2, "123456"), operator="00000042"
    )
    cut = cut_frame(tx.request)
    assert isinstance(cut, Whole) and cut.frame.control == 0x1C
    assert cut.frame.data == bytes.fromhex("02 56 34 12  42 00 00 00  1A 00  00 59 23 31 12 26")
    assert tx.judge(Frame(METER.wire, 0x9C, b"")) == Answer(None)
    refused = tx.judge(Frame(METER.wire, 0xDC, b"\x04"))
    assert isinstance(refused, Refusal) and isinstance(refused.error, AbnormalReply)
    assert refused.error.kinds == (ErrorKind.UNAUTHORISED,)
    with pytest.raises(ValueError, match="one meter"):
        everyone = MeterAddress.parse("999999999999")
        relay_control(everyone, RelayCommand.TRIP, datetime(2026, 1, 1), Password(2, "000000"))
