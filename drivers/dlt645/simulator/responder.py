"""Bytes in, replies out, for the DL/T 645 meters on one line; the line server owns I/O and timing.

Made to share a line with other protocols' responders: ``claim(buffer)`` answers "is the frame at
the start of these bytes mine?" with ``Mine`` (bytes used and the request), ``NotMine`` (another
protocol's or noise) or ``NeedMore``. A line carrying Modbus and DL/T 645 devices asks each responder
in turn; the first ``Mine`` wins, and when all say ``NotMine`` the first byte is line garbage.

Several meters accepting one request (a read-address broadcast with two meters on the line) answer
at once, as on a real bus: their replies are merged into one damaged frame (``collisions``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drivers.dlt645.address import MeterAddress
from drivers.dlt645.frame import Frame, cut_frame, encode_frame
from drivers.dlt645.simulator.meter import SimulatedMeter
from drivers.dlt645.transaction import Corrupt, Incomplete, Noise


@dataclass
class LineStats:
    """Counters since start; read them from tests and benches."""

    requests: int = 0  # well-formed request frames seen, for any address
    answered: int = 0
    silent: int = 0  # requests for a simulated meter that got no answer (faults)
    unknown_address: int = 0  # requests no simulated meter accepts
    broadcasts: int = 0
    corrupted: int = 0  # replies sent with a broken checksum (fault)
    collisions: int = 0  # requests several meters answered at once
    garbage: int = 0  # bytes that did not frame (bad checksum, noise, replies of others)


@dataclass(frozen=True)
class Request:
    frame: Frame
    size: int  # bytes the request took on the wire, preamble included


@dataclass(frozen=True)
class Reply:
    frame: bytes
    delay_s: float  # meter turnaround + slow fault


@dataclass(frozen=True)
class Mine:
    used: int
    request: Request | None  # None: bytes of ours that are not a request (corrupt, a reply)


@dataclass(frozen=True)
class NotMine:
    pass


@dataclass(frozen=True)
class NeedMore:
    pass


Claim = Mine | NotMine | NeedMore


class Dlt645Responder:
    def __init__(self, meters: Iterable[SimulatedMeter]) -> None:
        self.meters: dict[str, SimulatedMeter] = {}
        for meter in meters:
            if meter.address.digits in self.meters:
                raise ValueError(f"meter address {meter.address} is simulated twice on one line")
            self.meters[meter.address.digits] = meter
        self.stats = LineStats()

    def claim(self, buffer: bytes) -> Claim:
        cut = cut_frame(buffer)
        if isinstance(cut, Incomplete):
            return NeedMore()
        if isinstance(cut, Noise):
            return NotMine()
        if isinstance(cut, Corrupt):
            self.stats.garbage += cut.size
            return Mine(cut.size, None)
        if cut.frame.is_reply:
            self.stats.garbage += cut.size  # a meter's reply (ours, echoed by the line) is not a request
            return Mine(cut.size, None)
        return Mine(cut.size, Request(cut.frame, cut.size))

    def respond(self, request: Request) -> Reply | None:
        self.stats.requests += 1
        frame = request.frame
        meters = [m for m in self.meters.values() if m.accepts(frame)]
        if not meters:
            self.stats.unknown_address += 1
            return None
        if MeterAddress.from_wire(frame.address).is_broadcast:
            self.stats.broadcasts += 1
            for meter in meters:
                meter.handle(frame)
            return None
        replies: list[bytes] = []
        delay = 0.0
        for meter in meters:
            decision = meter.decide_faults()
            if not decision.answer:
                self.stats.silent += 1
                continue
            reply = meter.handle(frame)
            if reply is None:
                continue
            wire = encode_frame(reply)
            if decision.corrupt_crc:
                wire = wire[:-2] + bytes([wire[-2] ^ 0xFF]) + wire[-1:]
                self.stats.corrupted += 1
            replies.append(wire)
            delay = max(delay, meter.turnaround_s + decision.extra_delay_s)
        if not replies:
            return None
        self.stats.answered += 1
        if len(replies) > 1:
            self.stats.collisions += 1
            return Reply(_collide(replies), delay)
        return Reply(replies[0], delay)


def _collide(frames: list[bytes]) -> bytes:
    """What two drivers talking at once leave on the line: the bits of both (a dominant-low model)."""
    size = max(len(f) for f in frames)
    merged = bytearray([0xFF] * size)
    for frame in frames:
        for index, byte in enumerate(frame.ljust(size, b"\xff")):
            merged[index] &= byte
    return bytes(merged)
