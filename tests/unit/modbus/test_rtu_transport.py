"""The RTU master against a scripted line on a virtual clock: which frames may become values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pymodbus.framer import FramerRTU
from serial.rs485 import RS485Settings

from agent.errors import DeviceException, DeviceTimeout, FramingError, TransportError
from drivers.modbus.config import Rs485Options
from drivers.modbus.profile import Table
from drivers.modbus.rtu_transport import RtuTransport
from drivers.modbus.transport import BROADCAST_TURNAROUND_S, ReadRequest, WriteRegisters

CHAR_S = 11 / 19200
GAP_S = 0.002

Script = Callable[[bytes], list[tuple[float, bytes]]]  # request frame -> [(delay, bytes)]


def rtu(unit: int, pdu: bytes) -> bytes:
    body = bytes([unit]) + pdu
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def input_registers(unit: int, *values: int) -> bytes:
    return rtu(unit, bytes([4, 2 * len(values)]) + b"".join(v.to_bytes(2, "big") for v in values))


class ScriptedLine:
    """A serial line on a virtual clock: each request frame schedules the bytes ``script`` says."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.now = 0.0
        self.sent: list[tuple[float, bytes]] = []
        self.pending: list[tuple[float, bytes]] = []
        self.buffer = bytearray()
        self.last_rx = -1.0
        self.is_open = True
        self.sync_serial: Any = None

    async def open(self) -> None:
        self.is_open = True

    async def wait_lost(self) -> None:
        raise AssertionError("the master never waits for a loss itself: the link keeper does")

    def close(self) -> None:
        self.is_open = False

    async def send(self, data: bytes) -> None:
        self.sent.append((self.now, data))
        self.pending += [(self.now + delay, reply) for delay, reply in self.script(data)]
        self.pending.sort(key=lambda item: item[0])

    def _deliver(self) -> None:
        while self.pending and self.pending[0][0] <= self.now:
            at, data = self.pending.pop(0)
            self.buffer += data
            self.last_rx = at

    def take(self) -> bytes:
        self._deliver()
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    async def wait_bytes(self, deadline: float) -> bool:
        self._deliver()
        if not self.buffer and self.pending and self.pending[0][0] <= deadline:
            self.now = self.pending[0][0]
            self._deliver()
        if self.buffer:
            return True
        self.now = max(self.now, deadline)
        return False

    def flush_input(self) -> None:
        self._deliver()
        self.buffer.clear()

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def master(
    script: Script, timeout_s: float = 1.0, late_reply_s: float | None = None, hold_for_all_units: bool = True
) -> tuple[RtuTransport, ScriptedLine]:
    line = ScriptedLine(script)
    transport = RtuTransport(
        "rs1", line, timeout_s, CHAR_S, GAP_S, late_reply_s=late_reply_s, hold_for_all_units=hold_for_all_units,
        clock=lambda: line.now, sleep=line.sleep,
    )
    return transport, line


def address_of(frame: bytes) -> int:
    return int.from_bytes(frame[2:4], "big")


async def test_a_late_reply_is_discarded_and_the_next_request_gets_its_own() -> None:
    slow = [True]

    def meter(frame: bytes) -> list[tuple[float, bytes]]:
        value = address_of(frame) + 100  # each address reads back as its own number
        return [(1.3 if slow[0] else 0.01, input_registers(1, value, 0))]

    transport, line = master(meter)
    with pytest.raises(DeviceTimeout):
        await transport.execute(ReadRequest(1, Table.INPUT, 0, 2))
    slow[0] = False  # the meter recovers; its late answer to address 0 is still on its way
    response = await transport.execute(ReadRequest(1, Table.INPUT, 6, 2))
    assert response.values == [106, 0]
    # the next request went out only after the late frame had come and the line was quiet again
    assert line.sent[1][0] >= 1.3 + GAP_S
    assert transport.counters.of(1).mismatched == 1


@pytest.mark.parametrize(("late_reply_s", "held_s"), [(None, 1.0), (0.25, 0.25)])
async def test_a_silent_unit_holds_the_line_one_more_timeout_only(late_reply_s: float | None, held_s: float) -> None:
    transport, line = master(lambda frame: [], late_reply_s=late_reply_s)
    with pytest.raises(DeviceTimeout):
        await transport.execute(ReadRequest(5, Table.INPUT, 0, 2))
    with pytest.raises(DeviceTimeout):
        await transport.execute(ReadRequest(5, Table.INPUT, 0, 2))
    first, second = line.sent[0][0], line.sent[1][0]
    wire = 8 * CHAR_S
    assert second == pytest.approx(first + wire + 1.0 + held_s, abs=0.01)


async def test_a_sweep_holds_the_line_only_for_the_unit_that_was_silent() -> None:
    transport, line = master(lambda frame: [], hold_for_all_units=False)
    for unit in (5, 6, 6):
        with pytest.raises(DeviceTimeout):
            await transport.execute(ReadRequest(unit, Table.HOLDING, 0, 1))
    (t5, _), (t6, _), (t6_again, _) = line.sent
    wire = 8 * CHAR_S
    assert t6 == pytest.approx(t5 + wire + 1.0, abs=0.01)  # the next unit is asked at once
    assert t6_again == pytest.approx(t6 + wire + 2.0, abs=0.01)  # the same unit again: held


async def test_frames_of_other_units_are_skipped_and_counted_on_their_sender() -> None:
    def shared(frame: bytes) -> list[tuple[float, bytes]]:
        return [(0.01, input_registers(9, 1, 2)), (0.05, input_registers(3, 7, 8))]

    transport, _ = master(shared)
    assert (await transport.execute(ReadRequest(3, Table.INPUT, 0, 2))).values == [7, 8]
    assert transport.counters.of(9).mismatched == 1
    assert transport.counters.of(3).mismatched == 0


async def test_a_reply_of_the_wrong_size_from_our_unit_is_a_framing_error() -> None:
    transport, _ = master(lambda frame: [(0.01, input_registers(1, 1, 2, 3))])
    with pytest.raises(FramingError, match="byte count 6, expected 4"):
        await transport.execute(ReadRequest(1, Table.INPUT, 0, 2))
    assert transport.counters.of(1).mismatched == 1


async def test_exception_2_only_when_it_answers_this_function() -> None:
    def refusing(frame: bytes) -> list[tuple[float, bytes]]:
        return [(0.01, rtu(1, b"\x83\x02")), (0.02, rtu(1, b"\x84\x02"))]

    transport, _ = master(refusing)
    with pytest.raises(DeviceException) as info:
        await transport.execute(ReadRequest(1, Table.INPUT, 0, 2))
    assert (info.value.function_code, info.value.exception_code) == (4, 2)
    assert transport.counters.of(1).mismatched == 1  # the FC3 exception was not taken for ours


async def test_a_corrupt_reply_is_counted_and_never_decoded() -> None:
    def garbling(frame: bytes) -> list[tuple[float, bytes]]:
        good = input_registers(4, 1, 2)
        return [(0.01, good[:-1] + bytes([good[-1] ^ 0xFF]))]

    transport, _ = master(garbling)
    with pytest.raises(FramingError, match="CRC"):
        await transport.execute(ReadRequest(4, Table.INPUT, 0, 2))
    assert transport.counters.of(4).crc_errors == 1


async def test_a_write_echo_with_another_value_is_not_a_confirmation() -> None:
    transport, _ = master(lambda frame: [(0.01, rtu(3, bytes.fromhex("0600010fa1")))])
    with pytest.raises(FramingError):
        await transport.execute(WriteRegisters(3, 1, (4000,)))


async def test_a_broadcast_expects_no_reply_and_holds_the_turnaround() -> None:
    transport, line = master(lambda frame: [] if frame[0] == 0 else [(0.01, input_registers(3, 5, 6))])
    response = await transport.execute(WriteRegisters(0, 1, (4000,)))
    assert response.values == []
    assert line.now == 0.0  # nothing was waited for
    await transport.execute(ReadRequest(3, Table.INPUT, 0, 2))
    assert line.sent[1][0] >= 8 * CHAR_S + BROADCAST_TURNAROUND_S


class Rs485Port:
    """pyserial's ``rs485_mode`` setter does the ioctl; a pty or a plain USB adapter refuses it."""

    def __init__(self, refuses: bool) -> None:
        self.refuses = refuses
        self.applied: list[RS485Settings] = []

    @property
    def rs485_mode(self) -> RS485Settings | None:
        return self.applied[-1] if self.applied else None

    @rs485_mode.setter
    def rs485_mode(self, settings: RS485Settings) -> None:
        if self.refuses:
            raise OSError(25, "Inappropriate ioctl for device")
        self.applied.append(settings)


@pytest.mark.parametrize("refuses", [False, True])
async def test_rs485_mode_is_set_on_every_open_and_a_refusal_is_said_once(
    refuses: bool, caplog: pytest.LogCaptureFixture
) -> None:
    line = ScriptedLine(lambda frame: [(0.01, input_registers(1, 5, 6))])
    line.sync_serial = Rs485Port(refuses)
    line.is_open = False
    transport = RtuTransport(
        "rs1", line, 1.0, CHAR_S, GAP_S, rs485=Rs485Options(delay_after_tx_ms=1.0),
        clock=lambda: line.now, sleep=line.sleep,
    )
    for _ in range(3):  # opened, then the adapter was replugged twice: a reopened port starts without it
        await transport.connect()
        assert (await transport.execute(ReadRequest(1, Table.INPUT, 0, 2))).values == [5, 6]
        line.close()
    warnings = [r for r in caplog.records if "rs485_mode_unavailable" in r.getMessage()]
    if refuses:
        assert len(warnings) == 1
    else:
        assert [s.delay_before_rx for s in line.sync_serial.applied] == [0.001] * 3 and not warnings


async def test_a_closed_port_is_not_reopened_by_a_request() -> None:
    """Reopening belongs to the bus's link keeper (back-off, state, events): a request fails at once."""
    transport, line = master(lambda frame: [(0.01, input_registers(1, 5, 6))])
    line.close()
    with pytest.raises(TransportError, match="not open"):
        await transport.execute(ReadRequest(1, Table.INPUT, 0, 2))
    assert not line.is_open and line.sent == []
