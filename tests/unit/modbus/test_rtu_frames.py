"""RTU frames and reply matching, pure: what a master may take as the answer to its request."""

from __future__ import annotations

import pytest
from pymodbus.framer import FramerRTU

from drivers.modbus.profile import Table
from drivers.modbus.reply_check import ExceptionReply, Matches, Mismatch, check_reply
from drivers.modbus.rtu_frames import Corrupt, Frame, Incomplete, cut_frame, request_frame
from drivers.modbus.transport import ReadDeviceId, ReadRequest, WriteCoils, WriteRegisters


def rtu(unit: int, pdu: bytes) -> bytes:
    body = bytes([unit]) + pdu
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def registers(*values: int) -> bytes:
    return bytes([4, 2 * len(values)]) + b"".join(v.to_bytes(2, "big") for v in values)


READ = ReadRequest(1, Table.INPUT, 6, 2)


def judge(request: object, unit: int, pdu: bytes) -> object:
    own = request_frame(request)[1:-2]  # type: ignore[arg-type]
    return check_reply(request, own, unit, pdu)  # type: ignore[arg-type]


def test_request_frames_are_standard_rtu() -> None:
    assert request_frame(ReadRequest(1, Table.HOLDING, 0, 10)) == bytes.fromhex("01 03 00 00 00 0a c5 cd")
    assert request_frame(WriteRegisters(0, 1, (4000,)))[:6] == bytes.fromhex("000600010fa0")


def test_cut_frame_sound_incomplete_and_corrupt() -> None:
    frame = rtu(1, registers(0x42CA, 0))
    assert cut_frame(frame + b"\x09\x04") == Frame(1, registers(0x42CA, 0), len(frame))
    assert cut_frame(frame[:5]) == Incomplete(1)
    assert cut_frame(frame[:1]) == Incomplete(1)
    damaged = frame[:-1] + bytes([frame[-1] ^ 0xFF])
    assert cut_frame(damaged) == Corrupt(1, len(damaged), "CRC error")
    assert isinstance(cut_frame(b"\x01\x63\x00\x00\x00"), Corrupt)  # no such function code
    exception = rtu(1, b"\x84\x02")
    assert cut_frame(exception) == Frame(1, b"\x84\x02", 5)


def test_a_reply_must_answer_this_unit_function_and_size() -> None:
    assert judge(READ, 1, registers(1, 2)) == Matches()
    assert judge(READ, 9, registers(1, 2)) == Mismatch("unit 9, expected 1")
    assert isinstance(judge(READ, 1, b"\x03" + registers(1, 2)[1:]), Mismatch)  # holding, not input
    assert isinstance(judge(READ, 1, registers(1, 2, 3)), Mismatch)  # the late answer to a 3-register read
    assert isinstance(judge(READ, 1, bytes([4, 4, 0, 1])), Mismatch)  # byte count says 4, two bytes follow


def test_bit_reads_count_bytes_not_bits() -> None:
    coils = ReadRequest(2, Table.COIL, 0, 10)
    assert judge(coils, 2, b"\x01\x02\xff\x03") == Matches()
    assert isinstance(judge(coils, 2, b"\x01\x01\xff"), Mismatch)


def test_an_exception_counts_only_for_this_function() -> None:
    assert judge(READ, 1, b"\x84\x02") == ExceptionReply(2)
    assert isinstance(judge(READ, 1, b"\x83\x02"), Mismatch)  # exception to a holding-register read
    assert isinstance(judge(READ, 3, b"\x84\x02"), Mismatch)  # from another unit
    assert isinstance(judge(READ, 1, b"\x84\x02\x00"), Mismatch)


@pytest.mark.parametrize(
    ("request_", "reply", "matches"),
    [
        (WriteRegisters(3, 1, (4000,)), bytes.fromhex("0600010fa0"), True),
        (WriteRegisters(3, 1, (4000,)), bytes.fromhex("0600010fa1"), False),  # another value
        (WriteRegisters(3, 1, (4000,)), bytes.fromhex("0600020fa0"), False),  # another address
        (WriteRegisters(3, 1, (1, 2)), bytes.fromhex("1000010002"), True),
        (WriteRegisters(3, 1, (1, 2)), bytes.fromhex("1000010003"), False),  # another quantity
        (WriteCoils(3, 5, (True,)), bytes.fromhex("050005ff00"), True),
        (WriteCoils(3, 5, (True,)), bytes.fromhex("0500050000"), False),
        (WriteCoils(3, 5, (True, False, True)), bytes.fromhex("0f00050003"), True),
    ],
)
def test_write_replies_echo_address_and_value_or_quantity(request_: object, reply: bytes, matches: bool) -> None:
    assert (judge(request_, 3, reply) == Matches()) is matches


def test_device_identification_reply_must_echo_its_read_code() -> None:
    ident = ReadDeviceId(5, read_code=1)
    assert judge(ident, 5, bytes([0x2B, 0x0E, 1, 1, 0, 0, 0])) == Matches()
    assert isinstance(judge(ident, 5, bytes([0x2B, 0x0E, 4, 1, 0, 0, 0])), Mismatch)
