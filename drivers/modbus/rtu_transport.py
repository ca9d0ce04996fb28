"""The RTU master on a serial line: one request, then only its own reply becomes a value.

RTU frames carry no transaction id, so a reply that comes after its timeout looks exactly like the
answer to the next request of the same size. Three rules keep such a frame from ever becoming a
value (``reply_check`` says whether a frame answers a request):

- **Nothing heard before a request answers it.** Before each request whatever was received is
  discarded (and counted on the unit that sent it) and the line must have been silent for the
  3.5-character interval.
- **A timeout leaves the line suspect.** After a request timed out, the line is listened to for one
  more timeout (``late_reply_s``; until the silent unit's late frame has arrived, if it does) and
  everything heard is discarded, so a device answering up to twice its timeout late cannot answer
  the next request, nor collide with its reply.
- **Frames that do not match are skipped, not taken.** While waiting, a frame from another unit, of
  another function or of the wrong size is counted on its sender and the wait goes on until the
  deadline.

A broadcast (unit 0) write expects no reply; the line is then held for the turnaround delay the
Modbus serial line spec asks for, so every device has applied it before the next request.

Under ``-v`` every frame sent and every frame (or corrupt run of bytes) cut from what was received
goes to ``agent.frame_log`` (the ``edgepost.frames`` logger, budgeted per bus).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import serial
from serial.rs485 import RS485Settings

from agent import frame_log
from agent.errors import DeviceException, DeviceTimeout, FramingError, TransportError
from agent.logs import RateLimiter, log_event, log_limited
from drivers.modbus.config import MIN_FRAME_GAP_S, Rs485Options, SerialBus, TcpBus, bits_per_char
from drivers.modbus.line_counters import LineCounters
from drivers.modbus.reply_check import ExceptionReply, Matches, Mismatch, check_reply
from drivers.modbus.rtu_frames import Corrupt, Frame, Incomplete, cut_frame, decode_response
from drivers.modbus.rtu_frames import request_frame as encode_request
from drivers.modbus.transport import BROADCAST_TURNAROUND_S, BROADCAST_UNIT, ModbusRequest, Response, pdu_response
from drivers.serialbus.serial_link import SerialLink

log = logging.getLogger(__name__)
_limiter = RateLimiter(60.0)


class ByteLink(Protocol):
    """What the master needs of a serial port (``SerialLink``; a scripted fake in unit tests)."""

    last_rx: float

    @property
    def is_open(self) -> bool: ...

    @property
    def sync_serial(self) -> Any: ...

    async def open(self) -> None: ...

    async def wait_lost(self) -> None: ...

    def close(self) -> None: ...

    async def send(self, data: bytes) -> None: ...

    def take(self) -> bytes: ...

    async def wait_bytes(self, deadline: float) -> bool: ...

    def flush_input(self) -> None: ...


def _where(name: str, unit: int) -> str:
    return f"{name}/unit{unit}"


class RtuTransport:
    """``Transport`` for RTU frames on a serial port or through a TCP serial server (``SerialLink``
    either way): our own request/reply matching instead of pymodbus' client."""

    def __init__(
        self,
        name: str,
        link: ByteLink,
        timeout_s: float,
        char_s: float,
        frame_gap_s: float,
        counters: LineCounters | None = None,
        rs485: Rs485Options | None = None,
        late_reply_s: float | None = None,
        hold_for_all_units: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.link = link
        self.timeout_s = timeout_s
        self.char_s = char_s
        self.frame_gap_s = frame_gap_s
        self.late_reply_s = timeout_s if late_reply_s is None else late_reply_s
        # False for a sweep (scan): each unit is asked once, so a late frame of the last silent unit
        # can only be a mismatch for the next one; the line is held for the same unit only
        self.hold_for_all_units = hold_for_all_units
        self.counters = counters if counters is not None else LineCounters()
        self._rs485 = rs485
        self._rs485_warned = False
        self._clock = clock
        self._sleep = sleep
        self._rx = bytearray()  # received bytes not yet judged
        self._suspect_until = 0.0  # from a request until its answer (or this): what is heard is discarded
        self._suspect_unit: int | None = None
        self._hold_until = 0.0  # after a broadcast: nothing goes on the wire before then

    @classmethod
    def for_bus(
        cls, bus: SerialBus, counters: LineCounters | None = None, sweep: bool = False, link: ByteLink | None = None
    ) -> RtuTransport:
        """``link``: the port of the bus's shared line (``drivers.serialbus``); default: a port of its own."""
        if link is None:
            link = SerialLink(bus.port, bus.baudrate, bus.bytesize, bus.parity, bus.stopbits)
        char_s = bits_per_char(bus.parity, bus.stopbits, bus.bytesize) / bus.baudrate
        return cls(
            bus.name, link, bus.timeout_s, char_s, bus.frame_gap_s, counters, bus.rs485, bus.late_reply_s,
            hold_for_all_units=not sweep,
        )

    @classmethod
    def over_tcp(cls, bus: TcpBus, counters: LineCounters | None = None) -> RtuTransport:
        """RTU frames through a TCP serial server: the same line behind it, the same late replies.
        The server's serial side is unknown here, so no wire time is added and the gap is the minimum."""
        link = SerialLink(f"socket://{bus.host}:{bus.port}", 9600)
        return cls(bus.name, link, bus.timeout_s, 0.0, MIN_FRAME_GAP_S, counters)

    # ------------------------------------------------------------------------------ connection
    # One attempt each: reopening a missing or lost port is the bus's LinkKeeper's job (link.py).

    @property
    def connected(self) -> bool:
        return self.link.is_open

    async def connect(self) -> None:
        if self.link.is_open:
            return
        await self.link.open()
        self.opened()

    def opened(self) -> None:
        """The port was (re)opened, by us or by the shared line's keeper."""
        self._rx.clear()  # a frame cut by the loss of the previous connection is nobody's reply
        self._apply_rs485()

    async def hand_over(self) -> None:
        """Another protocol's master takes the shared line next: leave it clean, held for every unit
        (a late reply of ours must neither answer nor collide with a request of another protocol)."""
        await self._settle(None)

    async def wait_lost(self) -> None:
        await self.link.wait_lost()

    async def close(self) -> None:
        self.link.close()

    def _apply_rs485(self) -> None:
        """Hand RTS direction control to the kernel (on every open: a reopened port starts without it);
        a pty (or a USB adapter) refuses the ioctl, which is said once."""
        if self._rs485 is None:
            return
        opts = self._rs485
        try:
            self.link.sync_serial.rs485_mode = RS485Settings(
                rts_level_for_tx=opts.rts_level_for_tx,
                rts_level_for_rx=opts.rts_level_for_rx,
                loopback=opts.loopback,
                delay_before_tx=opts.delay_before_tx_ms / 1000.0,
                delay_before_rx=opts.delay_after_tx_ms / 1000.0,
            )
        except (ValueError, OSError, AttributeError, serial.SerialException) as exc:
            if not self._rs485_warned:
                self._rs485_warned = True
                log_event(log, "rs485_mode_unavailable", logging.WARNING, bus=self.name, reason=str(exc))

    # ------------------------------------------------------------------------------- requests

    async def execute(self, request: ModbusRequest) -> Response:
        if not self.link.is_open:  # not reopened here: a request fails at once, the link keeper reopens
            raise TransportError(f"{self.name}: the port is not open")
        await self._settle(request.unit)
        frame = encode_request(request)
        frame_log.log_frame(self.name, "tx", frame, unit=request.unit)
        await self.link.send(frame)
        sent = self._clock()
        on_wire_s = len(frame) * self.char_s  # a pty delivers at once; a real line takes this long
        if request.unit == BROADCAST_UNIT:
            self._hold_until = sent + on_wire_s + BROADCAST_TURNAROUND_S
            return Response()
        deadline = sent + on_wire_s + self.timeout_s
        # suspect until answered, so that a wait cut short (a cancelled caller) leaves the line suspect too
        self._suspect_until = deadline + self.late_reply_s
        self._suspect_unit = request.unit
        return await self._reply(request, frame[1:-2], deadline)

    async def _reply(self, request: ModbusRequest, request_pdu: bytes, deadline: float) -> Response:
        where = _where(self.name, request.unit)
        own_trouble: str | None = None  # our unit sent something that was not the reply
        while True:
            self._rx += self.link.take()
            while (cut := self._next_frame()) is not None:
                if isinstance(cut, Corrupt):
                    self._count_corrupt(cut)
                    if cut.unit == request.unit:
                        # our device answered and the answer is damaged: nothing better will follow
                        self._answered()
                        await self._quiet()
                        raise FramingError(where, cut.reason)
                    continue
                verdict = check_reply(request, request_pdu, cut.unit, cut.pdu)
                if isinstance(verdict, Matches):
                    self._answered()
                    return self._decode(request, cut, where)
                if isinstance(verdict, ExceptionReply):
                    self._answered()
                    raise DeviceException(where, request.function_code, verdict.code)
                self._count_mismatch(cut, verdict, request)
                if cut.unit == request.unit:
                    own_trouble = verdict.reason
            if not await self.link.wait_bytes(deadline):
                break
        if not self.link.is_open:
            raise TransportError(f"{self.name}: the port closed while waiting for unit {request.unit}")
        if own_trouble is not None:
            raise FramingError(where, f"reply does not match the request: {own_trouble}")
        raise DeviceTimeout(where, "no response")

    def _answered(self) -> None:
        self._suspect_until = 0.0
        self._suspect_unit = None

    def _decode(self, request: ModbusRequest, frame: Frame, where: str) -> Response:
        pdu = decode_response(frame.pdu)
        if pdu is None:
            self.counters.frame_unit(frame.unit).mismatched += 1
            raise FramingError(where, "reply does not decode")
        return pdu_response(where, request, pdu)

    # ----------------------------------------------------------------------- between requests

    async def _settle(self, unit: int | None) -> None:
        """Make the line clean for the next request, to ``unit`` (None: of another master; see the module doc)."""
        if self._hold_until > self._clock():
            await self._sleep(self._hold_until - self._clock())
        self._discard()
        hold = unit is None or self.hold_for_all_units or self._suspect_unit == unit
        while hold and self._suspect_until > self._clock():
            if not await self.link.wait_bytes(self._suspect_until):
                break
            if self._suspect_unit in self._discard():
                break  # the late frame came: that unit owes us nothing more
        self._answered()
        await self._quiet()

    async def _quiet(self) -> None:
        """Wait until the line has been silent for the 3.5-character interval, discarding what comes."""
        while (wait := self.link.last_rx + self.frame_gap_s - self._clock()) > 0:
            await self._sleep(wait)
            self._discard()
        self._discard(final=True)
        self.link.flush_input()

    def _discard(self, final: bool = False) -> set[int]:
        """Count and drop every complete frame received so far; the units they claim to come from.
        With ``final`` an incomplete tail is dropped too (counted as corrupt)."""
        self._rx += self.link.take()
        heard: set[int] = set()
        while (cut := self._next_frame(final)) is not None:
            heard.add(cut.unit)
            if isinstance(cut, Corrupt):
                self._count_corrupt(cut)
            else:
                self.counters.frame_unit(cut.unit).mismatched += 1
                log_limited(
                    _limiter, log, f"{self.name}/late{cut.unit}", "late_frame_discarded", logging.INFO,
                    bus=self.name, unit=cut.unit, function=cut.pdu[0] if cut.pdu else None,
                )
        return heard

    def _next_frame(self, final: bool = False) -> Frame | Corrupt | None:
        """Cut the first frame (or run of corrupt bytes) off what was received; None until one has fully
        arrived. With ``final`` an incomplete tail is cut too, as a truncated frame."""
        if not self._rx:
            return None
        cut = cut_frame(bytes(self._rx))
        if isinstance(cut, Incomplete):
            if not final:
                return None
            cut = Corrupt(cut.unit, len(self._rx), "truncated frame")
        if frame_log.enabled():
            fields: dict[str, object] = {"unit": cut.unit}
            if isinstance(cut, Corrupt):
                fields["corrupt"] = cut.reason
            frame_log.log_frame(self.name, "rx", bytes(self._rx[: cut.size]), **fields)
        del self._rx[: cut.size]
        return cut

    def _count_corrupt(self, cut: Corrupt) -> None:
        self.counters.frame_unit(cut.unit).crc_errors += 1
        log_limited(
            _limiter, log, f"{self.name}/corrupt", "corrupt_frame", logging.INFO,
            bus=self.name, unit=cut.unit, reason=cut.reason,
        )

    def _count_mismatch(self, frame: Frame, verdict: Mismatch, request: ModbusRequest) -> None:
        self.counters.frame_unit(frame.unit).mismatched += 1
        log_limited(
            _limiter, log, f"{self.name}/mismatch{frame.unit}", "reply_mismatch", logging.INFO,
            bus=self.name, unit=frame.unit, waiting_for=request.unit, reason=verdict.reason,
        )
