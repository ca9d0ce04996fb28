"""One request on an RS-485 line and how to recognise its reply: the unit a shared bus service runs.

Protocol-neutral on purpose. A line carrying Modbus RTU and DL/T 645 devices has one queue and one
master; each protocol brings a ``LineTransaction``: the bytes to send, a timeout, a framer (``cut``)
that finds where the next frame in the received bytes ends, and a judge that says whether a frame
answers this request. The bus service sends, cuts and judges until an ``Answer`` (the value), a
``Refusal`` (the device said no: raised), ``Damaged`` (the device answered and the answer is
unusable: a framing error) or the deadline. Every other frame is a ``Stray``: counted on its sender,
never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from agent.errors import DeviceError

F = TypeVar("F")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# ---------------------------------------------------------------------------------------- framing


@dataclass(frozen=True)
class Incomplete:
    """The bytes so far may be the start of a frame: wait for more."""


@dataclass(frozen=True)
class Noise:
    """``size`` leading bytes cannot start a frame (line noise, another protocol's bytes)."""

    size: int


@dataclass(frozen=True)
class Corrupt:
    """``size`` bytes were framed but fail the protocol's check (checksum, end byte)."""

    size: int
    reason: str
    sender: str | None  # who the header claims sent it, when it can be read


@dataclass(frozen=True)
class Whole(Generic[F]):
    """A well-formed frame taking ``size`` bytes (preamble included), from ``sender``."""

    size: int
    frame: F
    sender: str


Cut = Incomplete | Noise | Corrupt | Whole[F]

# ---------------------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Answer(Generic[T_co]):
    value: T_co


@dataclass(frozen=True)
class Refusal:
    """The device answered this request with an error of its protocol (raised as ``error``)."""

    error: DeviceError


@dataclass(frozen=True)
class Damaged:
    """The device answered this request and the answer cannot be used (bad BCD, wrong length)."""

    reason: str


@dataclass(frozen=True)
class Stray:
    """The frame answers something else. ``own``: it came from the device this request waits for."""

    reason: str
    own: bool


Verdict = Answer[T] | Refusal | Damaged | Stray


class LineTransaction(Protocol[F, T_co]):
    """What a bus service needs to run one request of any protocol."""

    @property
    def device(self) -> str:
        """Who is asked, for error messages."""
        ...

    @property
    def sender(self) -> str | None:
        """The ``sender`` key of the asked device's frames (None: whoever answers a broadcast query)."""
        ...

    @property
    def request(self) -> bytes: ...

    @property
    def timeout_s(self) -> float: ...

    @property
    def expects_reply(self) -> bool:
        """False for a broadcast: nothing answers, the line is held for the devices to act."""
        ...

    def cut(self, buffer: bytes) -> Cut[F]: ...

    def judge(self, frame: F) -> Verdict[T_co]: ...
