"""Bytes in, bytes out: frame decoding (pymodbus framers), device dispatch, faults, per-bus counters.

Shared by the serial and TCP servers, which own the I/O and the timing. A ``Reply`` carries the
frame to send and the device-side delay (turnaround plus any ``slow`` fault); ``None`` means the
bus stays silent (unknown unit id, a ``silent`` or ``drop`` fault, a broadcast).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pymodbus.framer import FramerBase, FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ModbusPDU

from drivers.modbus.simulator.device import SimulatedDevice
from drivers.modbus.simulator.faults import Fault

Framing = Literal["rtu", "socket"]
_WRITE_FUNCTIONS = frozenset({5, 6, 15, 16})


@dataclass
class BusStats:
    """Counters since start; read them from tests and benches."""

    requests: int = 0  # well-formed frames seen, for any unit
    writes: int = 0  # write requests among them (broadcasts included)
    answered: int = 0
    silent: int = 0  # frames for a simulated unit that got no answer (faults)
    unknown_unit: int = 0
    corrupted: int = 0  # answers sent with a broken CRC
    garbage: int = 0  # bytes that did not frame (bad CRC, noise)


@dataclass(frozen=True)
class Reply:
    frame: bytes
    delay_s: float  # device turnaround + slow fault


@dataclass(frozen=True)
class Request:
    unit: int
    transaction_id: int
    pdu: ModbusPDU
    size: int  # bytes the request frame took on the wire


class Responder:
    """Decodes request frames and answers them for a set of devices (keyed by unit id)."""

    def __init__(self, devices: Iterable[SimulatedDevice], framing: Framing = "rtu") -> None:
        self.devices: dict[int, SimulatedDevice] = {}
        for device in devices:
            if device.unit in self.devices:
                raise ValueError(f"unit id {device.unit} is simulated twice on one bus")
            self.devices[device.unit] = device
        self.framing: Framing = framing
        self.stats = BusStats()
        self._decoder = DecodePDU(is_server=True)
        self._framer: FramerBase = FramerRTU(self._decoder) if framing == "rtu" else FramerSocket(self._decoder)

    def decode(self, buffer: bytes) -> tuple[int, Request | None]:
        """``(bytes consumed, request or None)``; consumed 0 means wait for more bytes."""
        used, unit, tid, pdu_bytes = self._framer.decode(buffer)
        if used == 0:
            return 0, None
        if not pdu_bytes:
            self.stats.garbage += used
            return used, None
        pdu = self._decoder.decode(pdu_bytes)
        if pdu is None:
            self.stats.garbage += used
            return used, None
        pdu.dev_id = unit
        pdu.transaction_id = tid
        size = len(pdu_bytes) + (3 if self.framing == "rtu" else 7)  # pdu_bytes starts at the function code
        return used, Request(unit, tid, pdu, size)

    def respond(self, request: Request) -> Reply | None:
        self.stats.requests += 1
        if request.pdu.function_code in _WRITE_FUNCTIONS:
            self.stats.writes += 1
        if request.unit == 0 and request.pdu.function_code in _WRITE_FUNCTIONS:
            for each in self.devices.values():  # broadcast write: everyone applies it, no one answers
                each.handle(request.pdu)
            return None
        device = self.devices.get(request.unit)
        if device is None:
            self.stats.unknown_unit += 1
            return None
        decision = device.decide_faults()
        if not decision.answer:
            self.stats.silent += 1
            return None
        response = device.handle(request.pdu)
        response.dev_id = request.unit
        response.transaction_id = request.transaction_id
        frame = self._framer.buildFrame(response)
        if decision.corrupt_crc and self.framing == "rtu":
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
            self.stats.corrupted += 1
        self.stats.answered += 1
        delay = device.turnaround_s + decision.extra_delay_s
        if request.pdu.function_code in _WRITE_FUNCTIONS:
            delay += decision.extra_write_delay_s
        return Reply(frame, delay)


class ServesDevices:
    """What every simulator server exposes about the devices its ``Responder`` answers for."""

    _responder: Responder

    @property
    def stats(self) -> BusStats:
        return self._responder.stats

    @property
    def devices(self) -> dict[int, SimulatedDevice]:
        return self._responder.devices

    def set_faults(self, unit: int, faults: list[Fault | str] | None) -> None:
        self._responder.devices[unit].set_faults(faults)
