"""A simulated RS-485 bus on a serial port (usually one end of a socat pty pair).

The simulator owns the I/O loop so it can model the wire: an answer leaves only once the request
and response bytes, the 3.5-character silences and the device turnaround would have elapsed on a
real line at the configured baud (``WireTiming``); the line then stays busy for the trailing
silence, so a master that does not wait is held back as the real bus would hold it back. Unknown
unit ids get silence, as on a real multi-drop bus. A ``SerialPath`` adds what a real master's path
adds: a USB adapter's latency and the device's turnaround jitter (``serial_path.py``).

DL/T 645 meters may share the line (``meters``), as in a meter cabinet: each frame is offered to
the meters' responder first (DL/T 645 frames announce themselves: ``68 A0..A5 68``), then decoded as
Modbus RTU; both are answered with the same wire timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import serial

from agent.errors import TransportError
from agent.logs import log_event
from drivers.modbus.simulator.device import SimulatedDevice
from drivers.modbus.simulator.responder import Responder, ServesDevices
from drivers.modbus.simulator.serial_path import SerialPath
from drivers.modbus.simulator.wire import WireTiming, sleep_until

if TYPE_CHECKING:
    from drivers.dlt645.simulator.meter import SimulatedMeter
    from drivers.dlt645.simulator.responder import Dlt645Responder

_log = logging.getLogger(__name__)
# a partial frame with no new byte for this long is line noise, not a frame in progress
_STALE_PARTIAL_S = 0.2


class _Sized(Protocol):
    @property
    def size(self) -> int: ...


class _Replied(Protocol):
    @property
    def frame(self) -> bytes: ...

    @property
    def delay_s(self) -> float: ...


R = TypeVar("R", bound=_Sized)


class SimulatedBus(ServesDevices):
    """Devices answering on one serial line. ``await start()`` / ``await stop()`` on a running loop."""

    def __init__(
        self,
        port: str,
        baud: int = 9600,
        devices: Sequence[SimulatedDevice] = (),
        *,
        parity: Literal["N", "E", "O"] = "N",
        stopbits: Literal[1, 2] = 1,
        bytesize: Literal[7, 8] = 8,
        wire_timing: bool = True,
        path: SerialPath | None = None,
        meters: Sequence[SimulatedMeter] = (),
    ) -> None:
        self.port = port
        self.timing = WireTiming(baud=baud, bytesize=bytesize, parity=parity, stopbits=stopbits)
        self.wire_timing = wire_timing
        self.path = path or SerialPath()
        self._responder = Responder(devices, "rtu")
        self.meter_responder: Dlt645Responder | None = None
        if meters:
            # imported here: drivers.dlt645.simulator builds on this package
            from drivers.dlt645.simulator.responder import Dlt645Responder

            self.meter_responder = Dlt645Responder(meters)
        self._serial: serial.Serial | None = None
        self._task: asyncio.Task[None] | None = None
        self._data = asyncio.Event()
        self._buffer = bytearray()
        self._bus_free_at = 0.0
        self._received_at = 0.0  # when the last bytes came off the pty
        self.delay_errors_s: list[float] = []  # served minus modelled delay per answer, for tests

    async def start(self) -> None:
        try:
            self._serial = serial.Serial(
                self.port,
                baudrate=self.timing.baud,
                bytesize=self.timing.bytesize,
                parity=self.timing.parity,
                stopbits=self.timing.stopbits,
                timeout=0,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"simulator cannot open {self.port}: {exc}") from None
        fd = self._serial.fileno()
        self._serial.reset_input_buffer()
        asyncio.get_running_loop().add_reader(fd, self._on_readable, fd)
        self._task = asyncio.create_task(self._serve(fd), name=f"simulator[{self.port}]")
        log_event(
            _log, "simulator_serial_started", port=self.port, baud=self.timing.baud,
            units=",".join(str(u) for u in sorted(self.devices)),
        )

    async def stop(self) -> None:
        if self._serial is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._serial.fileno())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._serial.close()
        self._serial = None
        log_event(_log, "simulator_serial_stopped", port=self.port, **vars(self.stats))

    def _on_readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # the other end of the pty went away
            log_event(_log, "simulator_serial_lost", logging.WARNING, port=self.port, error=str(exc))
            asyncio.get_running_loop().remove_reader(fd)
            return
        self._received_at = time.perf_counter()
        self._buffer += chunk
        self._data.set()

    async def _serve(self, fd: int) -> None:
        while True:
            await self._data.wait()
            self._data.clear()
            while self._buffer:
                arrived = self._received_at
                claimed = await self._meter_frame(fd, arrived)
                if claimed is None:
                    break
                if claimed:
                    continue
                used, request = self._responder.decode(bytes(self._buffer))
                if used == 0:
                    await self._wait_rest_of_frame()
                    break
                del self._buffer[:used]
                if request is not None:
                    await self._answer(fd, request, arrived, self._responder.respond)

    async def _meter_frame(self, fd: int, arrived: float) -> bool | None:
        """Serve a DL/T 645 frame at the head of the buffer: True when one was taken, False when the
        bytes are not DL/T 645's, None when they may be the start of one (wait for more)."""
        meters = self.meter_responder
        if meters is None:
            return False
        from drivers.dlt645.simulator.responder import Mine, NeedMore

        claim = meters.claim(bytes(self._buffer))
        if isinstance(claim, NeedMore):
            await self._wait_rest_of_frame()
            return None
        if not isinstance(claim, Mine):
            return False
        del self._buffer[: claim.used]
        if claim.request is not None:
            await self._answer(fd, claim.request, arrived, meters.respond)
        return True

    async def _wait_rest_of_frame(self) -> None:
        try:
            async with asyncio.timeout(_STALE_PARTIAL_S):  # not wait_for: on 3.11 it can swallow a cancel
                await self._data.wait()
        except TimeoutError:
            self.stats.garbage += len(self._buffer)
            self._buffer.clear()

    async def _answer(
        self, fd: int, request: R, arrived: float, respond: Callable[[R], _Replied | None]
    ) -> None:
        reply = respond(request)
        # a polite master would have waited for the line
        start = max(self.path.request_on_wire(arrived), self._bus_free_at)
        if reply is None:
            self._bus_free_at = start + self.timing.bytes_s(request.size) + self.timing.silence_s
            return
        turnaround = self.path.turnaround_s(reply.delay_s)
        modelled = 0.0
        if self.wire_timing:
            modelled = self.timing.response_delay_s(request.size, len(reply.frame), turnaround)
        else:
            modelled = turnaround
        wire_end = start + modelled
        deadline = self.path.answer_at_host(wire_end)
        await sleep_until(deadline)
        self._write(fd, reply.frame)
        sent = time.perf_counter()
        self.delay_errors_s.append(sent - deadline)
        if len(self.delay_errors_s) > 10_000:
            del self.delay_errors_s[:5_000]
        # the line is free a t3.5 after the answer left it (late by our own overshoot), whenever
        # the adapter hands it to the host
        self._bus_free_at = wire_end + (sent - deadline) + (self.timing.guard_s if self.wire_timing else 0.0)

    def _write(self, fd: int, frame: bytes) -> None:
        try:
            os.write(fd, frame)
        except OSError as exc:
            log_event(_log, "simulator_write_failed", logging.WARNING, port=self.port, error=str(exc))
