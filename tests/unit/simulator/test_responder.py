"""Frames in, frames out, through the pymodbus framers: silence, CRC corruption, broadcast, TCP ids."""

from __future__ import annotations

from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.register_message import ReadInputRegistersRequest, WriteSingleRegisterRequest

from drivers.modbus.simulator.device import SimulatedDevice
from drivers.modbus.simulator.responder import Responder
from tests.unit.simulator.sim_profiles import meter_profile

CLIENT_RTU = FramerRTU(DecodePDU(is_server=False))
CLIENT_TCP = FramerSocket(DecodePDU(is_server=False))


def rtu_request(unit: int, pdu: ModbusPDU) -> bytes:
    pdu.dev_id = unit
    return CLIENT_RTU.buildFrame(pdu)


def answer(responder: Responder, frame: bytes) -> bytes | None:
    used, request = responder.decode(frame)
    assert used == len(frame)
    assert request is not None
    reply = responder.respond(request)
    return None if reply is None else reply.frame


def test_answers_a_simulated_unit_and_stays_silent_for_others() -> None:
    responder = Responder([SimulatedDevice(3, meter_profile(), {"current": 1.5})])
    frame = answer(responder, rtu_request(3, ReadInputRegistersRequest(address=2, count=1)))
    assert frame is not None
    _, response = CLIENT_RTU.handleFrame(frame, 3, 0)
    assert response is not None
    assert list(response.registers) == [150]
    assert answer(responder, rtu_request(4, ReadInputRegistersRequest(address=2, count=1))) is None
    assert responder.stats.unknown_unit == 1
    assert responder.stats.answered == 1


def test_request_size_is_the_rtu_frame_length() -> None:
    responder = Responder([SimulatedDevice(1, meter_profile())])
    frame = rtu_request(1, ReadInputRegistersRequest(address=2, count=1))
    _, request = responder.decode(frame)
    assert request is not None
    assert request.size == len(frame) == 8


def test_partial_frames_wait_and_garbage_is_counted() -> None:
    responder = Responder([SimulatedDevice(1, meter_profile())])
    frame = rtu_request(1, ReadInputRegistersRequest(address=2, count=1))
    assert responder.decode(frame[:5]) == (0, None)
    broken = frame[:-1] + bytes([frame[-1] ^ 0x55])
    used, request = responder.decode(broken)
    assert used == len(broken)
    assert request is None
    assert responder.stats.garbage == len(broken)


def test_corrupt_crc_fault_breaks_the_crc_of_the_answer() -> None:
    responder = Responder([SimulatedDevice(1, meter_profile(), faults=["corrupt-crc"])])
    frame = answer(responder, rtu_request(1, ReadInputRegistersRequest(address=2, count=1)))
    assert frame is not None
    crc = int.from_bytes(frame[-2:], "big")
    assert not FramerRTU.check_CRC(frame[:-2], crc)
    assert responder.stats.corrupted == 1


def test_silent_and_slow_faults() -> None:
    device = SimulatedDevice(1, meter_profile(turnaround_ms=5), faults=["silent"])
    responder = Responder([device])
    assert answer(responder, rtu_request(1, ReadInputRegistersRequest(address=2, count=1))) is None
    assert responder.stats.silent == 1
    device.set_faults(["slow:40"])
    _, request = responder.decode(rtu_request(1, ReadInputRegistersRequest(address=2, count=1)))
    assert request is not None
    reply = responder.respond(request)
    assert reply is not None
    assert abs(reply.delay_s - 0.045) < 1e-9


def test_broadcast_write_reaches_every_device_and_gets_no_answer() -> None:
    devices = [SimulatedDevice(u, meter_profile()) for u in (1, 2)]
    responder = Responder(devices)
    assert answer(responder, rtu_request(0, WriteSingleRegisterRequest(address=20, registers=[9]))) is None
    assert [d.value_of("dim") for d in devices] == [9, 9]


def test_modbus_tcp_keeps_the_transaction_id() -> None:
    responder = Responder([SimulatedDevice(1, meter_profile(), {"current": 2})], framing="socket")
    request = ReadInputRegistersRequest(address=2, count=1, dev_id=1, transaction_id=77)
    frame = answer(responder, CLIENT_TCP.buildFrame(request))
    assert frame is not None
    _, response = CLIENT_TCP.handleFrame(frame, 1, 77)
    assert response is not None
    assert response.transaction_id == 77
    assert list(response.registers) == [200]
