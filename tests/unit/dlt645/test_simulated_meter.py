"""The simulated meter and its responder without a line: which frames are whose, and what comes back."""

from __future__ import annotations

from datetime import datetime

import pytest
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest

from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.di import DataId
from drivers.dlt645.frame import Frame, cut_frame
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.dlt645.requests import broadcast_time, read_address, read_data
from drivers.dlt645.simulator import Dlt645Responder, SimulatedMeter
from drivers.dlt645.simulator.responder import Mine, NeedMore, NotMine
from drivers.dlt645.transaction import Answer, Whole
from drivers.modbus.simulator import SineSpec

PROFILES = Dlt645Profiles.load()
M1 = MeterAddress.parse("1")


def ddsu(address: str = "1", **kwargs: object) -> SimulatedMeter:
    return SimulatedMeter(address, PROFILES.get("chint/ddsu666-dlt645"), **kwargs)  # type: ignore[arg-type]


def modbus_request(unit: int) -> bytes:
    pdu = ReadHoldingRegistersRequest(address=0, count=10, dev_id=unit)
    return bytes(FramerRTU(DecodePDU(is_server=False)).buildFrame(pdu))


def test_the_responder_claims_only_dlt645_frames() -> None:
    responder = Dlt645Responder([ddsu()])
    request = read_data(M1, DataId.parse("02 01 01 00"), DataFormat.parse("XXX.X")).request
    claim = responder.claim(request)
    assert isinstance(claim, Mine) and claim.used == len(request) and claim.request is not None
    assert isinstance(responder.claim(request[:9]), NeedMore)
    # a Modbus read to unit 0x68 starts like a DL/T 645 frame; its 8th byte is not a second 68
    assert isinstance(responder.claim(modbus_request(0x68)), NotMine)
    assert isinstance(responder.claim(modbus_request(1)), NotMine)
    assert isinstance(responder.claim(b"\x00\x01"), NotMine)


def test_a_read_is_answered_with_the_generators_value() -> None:
    meter = ddsu(generators={"voltage": SineSpec(amplitude=0.0, offset=229.9)})
    responder = Dlt645Responder([meter])
    tx = read_data(M1, DataId.parse("02 01 01 00"), DataFormat.parse("XXX.X"))
    claim = responder.claim(tx.request)
    assert isinstance(claim, Mine) and claim.request is not None
    reply = responder.respond(claim.request)
    assert reply is not None and reply.delay_s == pytest.approx(0.05)
    cut = cut_frame(reply.frame)
    assert isinstance(cut, Whole) and tx.judge(cut.frame) == Answer(229.9)


def test_frames_for_other_meters_and_replies_get_silence() -> None:
    responder = Dlt645Responder([ddsu()])
    other = read_data(MeterAddress.parse("2"), DataId.parse("02 01 01 00"), DataFormat.parse("XXX.X"))
    claim = responder.claim(other.request)
    assert isinstance(claim, Mine) and claim.request is not None
    assert responder.respond(claim.request) is None and responder.stats.unknown_address == 1
    meter = ddsu()
    assert not meter.accepts(Frame(M1.wire, 0x91, b""))  # a reply heard on the line
    assert meter.accepts(Frame(MeterAddress.parse("AAAAAAAAAA01").wire, 0x11, b""))  # shortened address


def test_broadcast_time_and_read_address() -> None:
    meter = ddsu("000012345678")
    sync = cut_frame(broadcast_time(datetime(2026, 1, 2, 3, 4, 5)).request)
    assert isinstance(sync, Whole) and meter.accepts(sync.frame) and meter.handle(sync.frame) is None
    assert meter.clock_set_to == datetime(2026, 1, 2, 3, 4, 5)
    ask = cut_frame(read_address().request)
    assert isinstance(ask, Whole)
    reply = meter.handle(ask.frame)
    assert reply is not None and read_address().judge(reply) == Answer(MeterAddress.parse("000012345678"))


def test_generators_for_unknown_points_are_refused() -> None:
    with pytest.raises(ValueError, match="no such points"):
        ddsu(generators={"voltage_a": 230.0})
    with pytest.raises(ValueError, match="12 digits"):
        ddsu("AAAAAAAAAAAA")


def test_a_value_the_item_cannot_hold_is_an_abnormal_reply_not_a_crash() -> None:
    meter = ddsu(generators={"voltage": "n/a", "meter_address": "12AB"})
    responder = Dlt645Responder([meter])
    for di, fmt in (("02 01 01 00", "XXX.X"), ("04 00 04 01", "NNNNNNNNNNNN")):
        claim = responder.claim(read_data(M1, DataId.parse(di), DataFormat.parse(fmt)).request)
        assert isinstance(claim, Mine) and claim.request is not None
        reply = responder.respond(claim.request)
        cut = cut_frame(reply.frame) if reply is not None else None
        assert isinstance(cut, Whole) and cut.frame.is_abnormal, di
