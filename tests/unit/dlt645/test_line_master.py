"""The line master on a scripted byte link: what it does with noise, strays and damage while waiting."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.errors import DeviceTimeout, TransportError
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.di import DataId
from drivers.dlt645.errors import Dlt645FramingError
from drivers.dlt645.frame import Frame, encode_frame
from drivers.dlt645.master import LineMaster
from drivers.dlt645.requests import read_address, read_data

M1 = MeterAddress.parse("1")
M2 = MeterAddress.parse("2")
VOLTAGE = DataId.parse("02 01 01 00")


class ScriptedLink:
    """Answers each request with the next scripted bytes (all at once, as a pty delivers them)."""

    def __init__(self, *answers: bytes) -> None:
        self.answers = list(answers)
        self.sent: list[bytes] = []
        self.last_rx = time.monotonic() - 1.0
        self.is_open = True
        self._buffer = bytearray()
        self.flushed = 0

    async def send(self, data: bytes) -> None:
        self.sent.append(data)
        if self.answers:
            self._buffer += self.answers.pop(0)
            self.last_rx = time.monotonic()

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    async def wait_bytes(self, deadline: float) -> bool:
        if not self._buffer:
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        return bool(self._buffer)

    def flush_input(self) -> None:
        self.flushed += 1
        self._buffer.clear()


def reply(address: MeterAddress, di: DataId, value: bytes, control: int = 0x91) -> bytes:
    return encode_frame(Frame(address.wire, control, di.wire + value))


def voltage() -> object:
    return read_data(M1, VOLTAGE, DataFormat.parse("XXX.X"), timeout_s=0.2)


async def test_noise_and_other_meters_frames_are_counted_and_skipped() -> None:
    corrupt = bytearray(reply(M2, VOLTAGE, bytes.fromhex("00 23")))
    corrupt[-2] ^= 0xFF
    script = b"\x00\x13\x37" + reply(M2, VOLTAGE, bytes.fromhex("00 22")) + bytes(corrupt)
    script += reply(M1, VOLTAGE, bytes.fromhex("05 23"))
    link = ScriptedLink(script)
    master = LineMaster("test", link, 0.0, gap_s=0.0)
    assert await master.request(voltage()) == 230.5  # type: ignore[arg-type]
    assert master.counters.noise_bytes == 3
    assert master.counters.of(M2.digits).mismatched == 1 and master.counters.of(M2.digits).checksum_errors == 1
    assert link.flushed == 1  # flushed before the request went out


async def test_a_damaged_answer_ends_the_wait_with_a_framing_error() -> None:
    link = ScriptedLink(reply(M1, VOLTAGE, bytes.fromhex("0A 23")), reply(M1, VOLTAGE, bytes.fromhex("05 23")))
    master = LineMaster("test", link, 0.0, gap_s=0.0)
    with pytest.raises(Dlt645FramingError, match="not BCD"):
        await master.request(voltage())  # type: ignore[arg-type]
    assert master.counters.of(M1.digits).damaged == 1
    assert await master.request(voltage()) == 230.5  # type: ignore[arg-type]


async def test_only_an_own_stray_makes_the_timeout_a_framing_error() -> None:
    current = DataId.parse("02 02 01 00")
    master = LineMaster("test", ScriptedLink(reply(M2, VOLTAGE, bytes.fromhex("05 23"))), 0.0, gap_s=0.0)
    with pytest.raises(DeviceTimeout):
        await master.request(voltage())  # type: ignore[arg-type]
    master = LineMaster("test", ScriptedLink(reply(M1, current, bytes.fromhex("00 05 00"))), 0.0, gap_s=0.0)
    with pytest.raises(Dlt645FramingError, match="02 02 01 00"):
        await master.request(voltage())  # type: ignore[arg-type]


async def test_a_closed_port_fails_at_once_and_broadcasts_are_not_requests() -> None:
    link = ScriptedLink()
    link.is_open = False
    master = LineMaster("test", link, 0.0)
    with pytest.raises(TransportError):
        await master.request(voltage())  # type: ignore[arg-type]
    assert link.sent == []
    with pytest.raises(ValueError, match="expects a reply"):
        await LineMaster("test", ScriptedLink(), 0.0).broadcast(read_address())
