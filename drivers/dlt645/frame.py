"""DL/T 645 frames: ``[FE FE FE FE] 68 A0..A5 68 C L DATA CS 16``.

Self-delimiting: the length byte ``L`` says where the frame ends, so no line silence is needed to
find it. ``DATA`` travels with 0x33 added to each byte; ``CS`` is the byte sum from the first 68 to
the end of the data, modulo 256. Frames here hold the data with the offset removed.

``cut_frame`` finds the next frame in received bytes (after the optional FE wake-up preamble) and
says what the leading bytes are: noise, a corrupt frame, a whole frame, or too few bytes to tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.dlt645.address import MeterAddress
from drivers.dlt645.codes import ABNORMAL, FOLLOWS, FUNCTION_MASK, REPLY
from drivers.dlt645.transaction import Corrupt, Cut, Incomplete, Noise, Whole

START = 0x68
END = 0x16
WAKE = 0xFE
PREAMBLE = bytes([WAKE] * 4)
OFFSET = 0x33
HEADER = 10  # 68, six address bytes, 68, C, L
MAX_DATA = 200  # the standard's largest data field (reads); a longer L is not a frame start


@dataclass(frozen=True)
class Frame:
    address: bytes  # six bytes, wire order (A0 first)
    control: int
    data: bytes = b""  # offset removed

    def __post_init__(self) -> None:
        if len(self.address) != 6:
            raise ValueError(f"a frame address is 6 bytes, got {len(self.address)}")
        if not 0 <= self.control <= 0xFF:
            raise ValueError(f"control code {self.control} is not a byte")
        if len(self.data) > MAX_DATA:
            raise ValueError(f"data of {len(self.data)} bytes is over the {MAX_DATA} the standard allows")

    @property
    def function(self) -> int:
        return self.control & FUNCTION_MASK

    @property
    def is_reply(self) -> bool:
        return bool(self.control & REPLY)

    @property
    def is_abnormal(self) -> bool:
        return self.is_reply and bool(self.control & ABNORMAL)

    @property
    def follows(self) -> bool:
        return bool(self.control & FOLLOWS)

    @property
    def sender(self) -> str:
        return sender_of(self.address)


def sender_of(address: bytes) -> str:
    """The address as a counter key: its 12 digits, or the raw hex when it is not an address."""
    try:
        return MeterAddress.from_wire(address).digits
    except ValueError:
        return "?" + address[::-1].hex().upper()


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def encode_frame(frame: Frame, preamble: bytes = PREAMBLE) -> bytes:
    """The bytes of ``frame`` on the wire, after ``preamble`` (empty for none)."""
    data = bytes((b + OFFSET) & 0xFF for b in frame.data)
    body = bytes([START, *frame.address, START, frame.control, len(data), *data])
    return preamble + body + bytes([checksum(body), END])


def _next_candidate(buffer: bytes, after: int) -> int:
    """Index of the next byte that could begin a frame (a preamble or a start), else the length."""
    for index in range(after, len(buffer)):
        if buffer[index] in (START, WAKE):
            return index
    return len(buffer)


def cut_frame(buffer: bytes) -> Cut[Frame]:
    """What the start of ``buffer`` is. Noise and corrupt frames report how many bytes to drop."""
    i = 0
    while i < len(buffer) and buffer[i] == WAKE:
        i += 1
    if i == len(buffer):
        return Incomplete()
    if buffer[i] != START:
        return Noise(_next_candidate(buffer, i + 1))
    if len(buffer) > i + 7 and buffer[i + 7] != START:
        return Noise(_next_candidate(buffer, i + 1))  # that 68 was a data byte, not a frame start
    if len(buffer) > i + 9 and buffer[i + 9] > MAX_DATA:
        return Noise(_next_candidate(buffer, i + 1))
    if len(buffer) < i + HEADER:
        return Incomplete()
    length = buffer[i + 9]
    end = i + HEADER + length + 2
    if len(buffer) < end:
        return Incomplete()
    address = bytes(buffer[i + 1 : i + 7])
    body = buffer[i : i + HEADER + length]
    if buffer[end - 2] != checksum(body):
        return Corrupt(end, f"checksum {buffer[end - 2]:02X}, expected {checksum(body):02X}", sender_of(address))
    if buffer[end - 1] != END:
        return Corrupt(end, f"frame ends with {buffer[end - 1]:02X}, not 16", sender_of(address))
    data = bytes((b - OFFSET) & 0xFF for b in buffer[i + HEADER : i + HEADER + length])
    frame = Frame(address, buffer[i + 8], data)
    return Whole(end, frame, frame.sender)
