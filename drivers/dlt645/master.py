"""The master on one serial line: one request at a time, and only its own reply becomes a value.

Protocol-neutral: it runs ``LineTransaction``s (``transaction.py``). On a line shared with Modbus
devices it is one of the line's masters (``drivers.serialbus.SharedLine``): the line gives it turns
and it hands the line over clean (``hand_over``). Rules:

- **Nothing heard before a request answers it.** Before each request whatever was received is
  discarded (counted on its sender), the line must have been quiet for ``gap_s``, and the port's
  input is flushed.
- **A timeout leaves the line suspect.** After a request timed out the line is listened to for
  ``late_reply_s`` more (until the silent device's late frame arrives, if it does) and what comes is
  discarded, so a late reply can neither answer the next request nor collide with its reply.
- **Frames that do not belong are skipped, not taken.** While waiting, a frame from another device,
  of another function or data identifier is counted on its sender and the wait goes on; a corrupt
  frame or an undecodable answer from the device asked ends the wait with a framing error.

After a broadcast (nothing answers) the line is held for ``broadcast_hold_s`` so every device has
acted on it before the next request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from agent.errors import DeviceTimeout, TransportError
from agent.logs import RateLimiter, log_limited
from agent.records import JsonValue
from drivers.dlt645.errors import AbnormalReply, Dlt645FramingError
from drivers.dlt645.transaction import Answer, Corrupt, Damaged, Incomplete, LineTransaction, Noise, Refusal, Whole

log = logging.getLogger(__name__)
_limiter = RateLimiter(60.0)

F = TypeVar("F")
T = TypeVar("T")

DEFAULT_GAP_S = 0.02  # DL/T 645 meters want some quiet before a frame; 20 ms is ~4 characters at 2400
DEFAULT_BROADCAST_HOLD_S = 0.2


class ByteLink(Protocol):
    """What the master needs of a serial port (``SerialLink``; a scripted fake in unit tests)."""

    last_rx: float

    @property
    def is_open(self) -> bool: ...

    async def send(self, data: bytes) -> None: ...

    def take(self) -> bytes: ...

    async def wait_bytes(self, deadline: float) -> bool: ...

    def flush_input(self) -> None: ...


@dataclass
class SenderCounters:
    timeouts: int = 0  # requests to it with no matching reply in time
    checksum_errors: int = 0  # its frames that failed their checksum or end byte
    mismatched: int = 0  # its frames that answered no pending request: late, another item, wrong function
    abnormal: int = 0  # abnormal replies (the device refused)
    damaged: int = 0  # answers to the request that could not be decoded

    def as_json(self) -> dict[str, JsonValue]:
        return dict(asdict(self))


@dataclass
class LineCounters:
    """What happened on the line, per sender (the address in the frame, not the device waited for)."""

    senders: dict[str, SenderCounters] = field(default_factory=dict)
    noise_bytes: int = 0  # bytes that could not start a frame

    def of(self, sender: str | None) -> SenderCounters:
        key = sender or "?"
        counters = self.senders.get(key)
        if counters is None:
            counters = self.senders[key] = SenderCounters()
        return counters


class LineMaster:
    """Runs transactions on ``link``; ``char_s`` is one character's wire time (11 bits / baud for 8E1)."""

    def __init__(
        self,
        name: str,
        link: ByteLink,
        char_s: float,
        *,
        late_reply_s: float | None = None,
        gap_s: float = DEFAULT_GAP_S,
        broadcast_hold_s: float = DEFAULT_BROADCAST_HOLD_S,
        counters: LineCounters | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.link = link
        self.char_s = char_s
        self.late_reply_s = late_reply_s
        self.gap_s = gap_s
        self.broadcast_hold_s = broadcast_hold_s
        self.counters = counters if counters is not None else LineCounters()
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()  # one transaction on the wire at a time
        self._rx = bytearray()
        self._framer: LineTransaction[Any, Any] | None = None  # cuts what is heard between requests
        self._suspect_until = 0.0
        self._suspect: str | None = None
        self._hold_until = 0.0

    def opened(self) -> None:
        """The port was (re)opened: a frame cut by the old connection's loss is nobody's reply."""
        self._rx.clear()

    async def hand_over(self) -> None:
        """Another protocol's master takes the shared line next (``drivers.serialbus``): wait out a
        broadcast hold and a silent meter's suspect window, count what was heard, flush."""
        async with self._lock:
            await self._settle()

    async def request(self, tx: LineTransaction[F, T]) -> T:
        """Send ``tx`` and return its answer; ``DeviceTimeout``, ``AbnormalReply``, ``Dlt645FramingError``
        or ``TransportError`` otherwise."""
        if not tx.expects_reply:
            raise ValueError(f"{tx.device}: a broadcast expects no reply; use broadcast()")
        async with self._lock:
            deadline = await self._send(tx) + tx.timeout_s
            late_s = tx.timeout_s if self.late_reply_s is None else self.late_reply_s
            # suspect until answered, so that a wait cut short (a cancelled caller) leaves it suspect too
            self._suspect_until = deadline + late_s
            self._suspect = tx.sender
            return await self._reply(tx, deadline)

    async def broadcast(self, tx: LineTransaction[F, Any]) -> None:
        """Send a frame nothing answers (time sync); the line is then held for the devices to act."""
        if tx.expects_reply:
            raise ValueError(f"{tx.device}: this request expects a reply; use request()")
        async with self._lock:
            self._hold_until = await self._send(tx) + self.broadcast_hold_s

    async def _send(self, tx: LineTransaction[F, Any]) -> float:
        """Settle the line and send; when the request's last byte is on the wire."""
        if not self.link.is_open:
            raise TransportError(f"{self.name}: the port is not open")
        self._framer = tx
        await self._settle()
        await self.link.send(tx.request)
        on_wire_s = len(tx.request) * self.char_s  # a pty delivers at once; a real line takes this long
        return self._clock() + on_wire_s

    async def _reply(self, tx: LineTransaction[F, T], deadline: float) -> T:
        own_trouble: str | None = None
        while True:
            self._rx += self.link.take()
            while self._rx:
                cut = tx.cut(bytes(self._rx))
                if isinstance(cut, Incomplete):
                    break
                del self._rx[: cut.size]
                if isinstance(cut, Noise):
                    self.counters.noise_bytes += cut.size
                    continue
                if isinstance(cut, Corrupt):
                    self._count_corrupt(cut)
                    if tx.sender is None or cut.sender == tx.sender:
                        self._answered()
                        raise Dlt645FramingError(tx.device, f"corrupt reply: {cut.reason}")
                    continue
                verdict = tx.judge(cut.frame)
                if isinstance(verdict, Answer):
                    self._answered()
                    return verdict.value
                if isinstance(verdict, Refusal):
                    self._answered()
                    self.counters.of(cut.sender).abnormal += 1
                    raise verdict.error
                if isinstance(verdict, Damaged):
                    self._answered()
                    self.counters.of(cut.sender).damaged += 1
                    raise Dlt645FramingError(tx.device, verdict.reason)
                self._count_stray(cut, verdict.reason, tx.device)
                if verdict.own:
                    own_trouble = verdict.reason
            if not await self.link.wait_bytes(deadline):
                break
        if not self.link.is_open:
            raise TransportError(f"{self.name}: the port closed while waiting for {tx.device}")
        self.counters.of(tx.sender).timeouts += 1
        if own_trouble is not None:
            raise Dlt645FramingError(tx.device, f"reply does not match the request: {own_trouble}")
        raise DeviceTimeout(tx.device, "no response")

    def _answered(self) -> None:
        self._suspect_until = 0.0
        self._suspect = None

    # ----------------------------------------------------------------------- between requests

    async def _settle(self) -> None:
        """Make the line clean for the next request (see the module doc)."""
        if self._hold_until > self._clock():
            await self._sleep(self._hold_until - self._clock())
        self._discard()
        while self._suspect_until > self._clock():
            if not await self.link.wait_bytes(self._suspect_until):
                break
            if self._suspect in self._discard():
                break  # the late frame came: that device owes us nothing more
        self._answered()
        while (wait := self.link.last_rx + self.gap_s - self._clock()) > 0:
            await self._sleep(wait)
            self._discard()
        self._discard(final=True)
        self.link.flush_input()

    def _discard(self, final: bool = False) -> set[str | None]:
        """Count and drop every frame received so far; the senders they claim. With ``final`` an
        incomplete tail is dropped too (as noise)."""
        self._rx += self.link.take()
        heard: set[str | None] = set()
        while self._rx and self._framer is not None:
            cut = self._framer.cut(bytes(self._rx))
            if isinstance(cut, Incomplete):
                if final:
                    self.counters.noise_bytes += len(self._rx)
                    self._rx.clear()
                break
            del self._rx[: cut.size]
            if isinstance(cut, Noise):
                self.counters.noise_bytes += cut.size
            elif isinstance(cut, Corrupt):
                heard.add(cut.sender)
                self._count_corrupt(cut)
            else:
                heard.add(cut.sender)
                self._count_stray(cut, "late or unsolicited frame", None)
        return heard

    def _count_corrupt(self, cut: Corrupt) -> None:
        self.counters.of(cut.sender).checksum_errors += 1
        log_limited(
            _limiter, log, f"{self.name}/corrupt", "corrupt_frame", logging.INFO,
            bus=self.name, sender=cut.sender, reason=cut.reason,
        )

    def _count_stray(self, cut: Whole[Any], reason: str, waiting_for: str | None) -> None:
        self.counters.of(cut.sender).mismatched += 1
        log_limited(
            _limiter, log, f"{self.name}/stray{cut.sender}", "reply_mismatch", logging.INFO,
            bus=self.name, sender=cut.sender, waiting_for=waiting_for, reason=reason,
        )


__all__ = ["AbnormalReply", "ByteLink", "LineCounters", "LineMaster", "SenderCounters"]
