"""DL/T 645 requests as line transactions: the frame to send and the judge of its reply.

A reply belongs to its request when it comes from the meter asked (address echo; any meter for a
read-address broadcast), carries control ``request | 0x80`` (or ``| 0xC0``: an abnormal reply,
raised as ``AbnormalReply``) and, for reads, echoes the data identifier and has exactly the bytes of
the item's format. Anything else is a ``Stray``; a reply of the right meter to this request that
cannot be decoded is ``Damaged``.

Writes (time sync, relay control) are encoded here; authorising them is the caller's business, on
the same path as Modbus writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Generic, TypeVar

from agent.records import PointValue
from drivers.dlt645 import bcd
from drivers.dlt645.address import BROADCAST, WILDCARD, MeterAddress
from drivers.dlt645.codes import ABNORMAL, REPLY, Edition, Function, error_kinds
from drivers.dlt645.di import DataId
from drivers.dlt645.errors import AbnormalReply
from drivers.dlt645.frame import Frame, cut_frame, encode_frame
from drivers.dlt645.transaction import Answer, Cut, Damaged, Refusal, Stray, Verdict

T = TypeVar("T")
Judge = Callable[[Frame], Verdict[T]]

DEFAULT_TIMEOUT_S = 1.0  # 2400 baud: a 20-byte reply takes ~90 ms, meters answer within 500 ms


@dataclass(frozen=True)
class Dlt645Transaction(Generic[T]):
    """One request. ``judge`` is None for a broadcast, which nothing answers."""

    device: str
    sender: str | None  # the address digits the asked meter's frames carry
    request: bytes
    timeout_s: float
    judge_reply: Judge[T] | None = field(repr=False)
    describe: str = ""

    @property
    def expects_reply(self) -> bool:
        return self.judge_reply is not None

    def cut(self, buffer: bytes) -> Cut[Frame]:
        return cut_frame(buffer)

    def judge(self, frame: Frame) -> Verdict[T]:
        if self.judge_reply is None:
            return Stray("a broadcast expects no reply", own=False)
        return self.judge_reply(frame)


def _addressed(
    target: MeterAddress, control: int, edition: Edition, device: str, frame: Frame
) -> Stray | Refusal | None:
    """The checks every addressed request shares; None when ``frame`` is a normal reply to it."""
    try:
        sender = MeterAddress.from_wire(frame.address)
    except ValueError:
        return Stray("the reply's address is not BCD", own=False)
    if not target.matches(sender) or sender.has_wildcard:
        return Stray(f"from meter {sender}", own=False)
    if not frame.is_reply:
        return Stray("a request, not a reply (an echo or another master)", own=False)
    if frame.function != control:
        return Stray(f"answers function {frame.function:#04x}, not {control:#04x}", own=True)
    if frame.follows:
        return Stray("announces follow-up frames, which a single item never needs", own=True)
    if frame.is_abnormal:
        if len(frame.data) != 1:
            return Stray(f"abnormal reply with {len(frame.data)} data bytes, not 1", own=True)
        return Refusal(AbnormalReply(device, control, frame.data[0], error_kinds(frame.data[0], edition)))
    return None


def read_data(
    address: MeterAddress,
    di: DataId,
    fmt: bcd.DataFormat,
    signed: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    device: str | None = None,
) -> Dlt645Transaction[PointValue]:
    """Read one data item; the answer is its value in the format's units (int, float or digit string)."""
    edition = di.edition
    control = edition.read_data
    name = device or f"meter {address}"
    request = encode_frame(Frame(address.wire, control, di.wire))

    def judge(frame: Frame) -> Verdict[PointValue]:
        common = _addressed(address, control, edition, name, frame)
        if common is not None:
            return common
        echoed = frame.data[: di.width]
        if echoed != di.wire:
            got = DataId.from_wire(echoed) if len(echoed) == di.width else echoed.hex()
            return Stray(f"answers data identifier {got}, not {di}", own=True)
        raw = frame.data[di.width :]
        if len(raw) != fmt.size:
            return Damaged(f"{di}: {len(raw)} value bytes, {fmt} needs {fmt.size}")
        try:
            return Answer(bcd.decode(fmt, raw, signed))
        except bcd.BcdError as exc:
            return Damaged(f"{di}: {exc}")

    return Dlt645Transaction(name, address.digits, request, timeout_s, judge, f"read {di}")


def read_address(timeout_s: float = DEFAULT_TIMEOUT_S) -> Dlt645Transaction[MeterAddress]:
    """Ask the one meter on the line for its address (2007, control 0x13 to AAAAAAAAAAAA).

    With several meters on the line their answers collide: expect a framing error, not an address.
    """
    control = Function.READ_ADDRESS
    request = encode_frame(Frame(WILDCARD.wire, control))
    device = f"meter {WILDCARD}"

    def judge(frame: Frame) -> Verdict[MeterAddress]:
        if not frame.is_reply or frame.function != control:
            return Stray("not a read-address reply", own=False)
        if frame.is_abnormal:
            byte = frame.data[0] if len(frame.data) == 1 else 0
            return Refusal(AbnormalReply(device, control, byte, error_kinds(byte)))
        try:
            sender = MeterAddress.from_wire(frame.address)
            told = MeterAddress.from_wire(frame.data)
        except ValueError as exc:
            return Damaged(f"read-address reply: {exc}")
        if told != sender or sender.has_wildcard:
            return Damaged(f"read-address reply from {sender} says {told}")
        return Answer(told)

    return Dlt645Transaction(device, None, request, timeout_s, judge, "read address")


def _bcd_byte(value: int) -> int:
    return (value // 10) << 4 | (value % 10)


def clock_bytes(when: datetime) -> bytes:
    """``ssmmhhDDMMYY``: seconds first, two BCD digits each."""
    fields = (when.second, when.minute, when.hour, when.day, when.month, when.year % 100)
    return bytes(_bcd_byte(v) for v in fields)


def broadcast_time(when: datetime) -> Dlt645Transaction[None]:
    """Set every meter's clock (control 0x08 to 999999999999); meters never answer it."""
    request = encode_frame(Frame(BROADCAST.wire, Function.BROADCAST_TIME, clock_bytes(when)))
    return Dlt645Transaction(f"meter {BROADCAST}", None, request, 0.0, None, f"time sync {when.isoformat()}")


class RelayCommand(IntEnum):
    """Control command N1 of a relay-control frame (0x1C)."""

    TRIP = 0x1A  # open the load switch
    CLOSE_PERMITTED = 0x1B  # the customer may close it
    CLOSE = 0x1C  # close directly (later meters)
    ALARM = 0x2A
    ALARM_RELEASE = 0x2B
    KEEP_POWER = 0x3A  # never trip while set
    KEEP_POWER_RELEASE = 0x3B


@dataclass(frozen=True)
class Password:
    """A password of level ``level`` (``PA``) and six hex digits (``P2 P1 P0``, as written)."""

    level: int
    digits: str

    def __post_init__(self) -> None:
        if not 0 <= self.level <= 0xFF:
            raise ValueError(f"password level {self.level} is not a byte")
        if len(self.digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in self.digits):
            raise ValueError("a password is 6 hex digits after its level")

    @property
    def wire(self) -> bytes:
        return bytes([self.level]) + bytes.fromhex(self.digits)[::-1]


def _operator_bytes(operator: str) -> bytes:
    if len(operator) != 8 or not operator.isdigit():
        raise ValueError(f"operator code {operator!r}: expected 8 digits")
    return bytes.fromhex(operator)[::-1]


def relay_control(
    address: MeterAddress,
    command: RelayCommand,
    valid_until: datetime,
    password: Password,
    operator: str = "00000000",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    device: str | None = None,
) -> Dlt645Transaction[None]:
    """Trip, close, alarm or keep-power (control 0x1C, plaintext form: ``PA P0 P1 P2 C0..C3 N1 N2 N3..N8``).

    Meters with a security module (password level 0x98/0x99) want N1..N8 encrypted; that is not here.
    """
    if address.is_broadcast or address.has_wildcard:
        raise ValueError("relay control goes to one meter, not to a broadcast or wildcard address")
    control = Function.RELAY_CONTROL
    name = device or f"meter {address}"
    data = password.wire + _operator_bytes(operator) + bytes([command, 0x00]) + clock_bytes(valid_until)
    request = encode_frame(Frame(address.wire, control, data))

    def judge(frame: Frame) -> Verdict[None]:
        common = _addressed(address, control, Edition.V2007, name, frame)
        if common is not None:
            return common
        if frame.data:
            return Damaged(f"relay-control reply carries {len(frame.data)} data bytes, none expected")
        return Answer(None)

    return Dlt645Transaction(name, address.digits, request, timeout_s, judge, f"relay {command.name.lower()}")


def reply_control(request_control: int, abnormal: bool = False) -> int:
    """The control code a meter answers ``request_control`` with."""
    return request_control | REPLY | (ABNORMAL if abnormal else 0)
