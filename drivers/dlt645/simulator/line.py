"""Simulated DL/T 645 meters on a serial port (usually one end of a socat pty pair), with wire timing.

A pty delivers at once; a real line at 2400 baud 8E1 takes 11 bits per byte. A reply therefore
leaves only once the request and the reply bytes and the meter's turnaround would have passed on a
real line (``WireTiming``), and the line stays busy until then, so a master that does not wait is
held back as the real bus would hold it back. Requests for no simulated meter get silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from typing import Literal

import serial

from agent.errors import TransportError
from agent.logs import log_event
from drivers.dlt645.simulator.meter import SimulatedMeter
from drivers.dlt645.simulator.responder import Dlt645Responder, LineStats, Mine, NeedMore, Request
from drivers.modbus.simulator.wire import WireTiming, sleep_until

_log = logging.getLogger(__name__)
# a partial frame with no new byte for this long is line noise, not a frame in progress
_STALE_PARTIAL_S = 0.5


class SimulatedDlt645Line:
    """Meters answering on one serial line. ``await start()`` / ``await stop()`` on a running loop."""

    def __init__(
        self,
        port: str,
        meters: Sequence[SimulatedMeter] = (),
        *,
        baud: int = 2400,
        parity: Literal["N", "E", "O"] = "E",
        stopbits: Literal[1, 2] = 1,
        bytesize: Literal[7, 8] = 8,
        wire_timing: bool = True,
    ) -> None:
        self.port = port
        self.timing = WireTiming(baud=baud, bytesize=bytesize, parity=parity, stopbits=stopbits)
        self.wire_timing = wire_timing
        self.responder = Dlt645Responder(meters)
        self._serial: serial.Serial | None = None
        self._task: asyncio.Task[None] | None = None
        self._data = asyncio.Event()
        self._buffer = bytearray()
        self._received_at = 0.0
        self._line_free_at = 0.0

    @property
    def stats(self) -> LineStats:
        return self.responder.stats

    @property
    def meters(self) -> dict[str, SimulatedMeter]:
        return self.responder.meters

    def set_faults(self, address: str, faults: list[str] | None) -> None:
        self.meters[address].set_faults(list(faults or []))

    async def start(self) -> None:
        try:
            self._serial = serial.Serial(
                self.port, baudrate=self.timing.baud, bytesize=self.timing.bytesize,
                parity=self.timing.parity, stopbits=self.timing.stopbits, timeout=0,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"simulator cannot open {self.port}: {exc}") from None
        fd = self._serial.fileno()
        self._serial.reset_input_buffer()
        asyncio.get_running_loop().add_reader(fd, self._on_readable, fd)
        self._task = asyncio.create_task(self._serve(fd), name=f"dlt645-simulator[{self.port}]")
        log_event(
            _log, "dlt645_simulator_started", port=self.port, baud=self.timing.baud,
            meters=",".join(sorted(self.meters)),
        )

    async def stop(self) -> None:
        if self._serial is None:
            return
        asyncio.get_running_loop().remove_reader(self._serial.fileno())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._serial.close()
        self._serial = None
        log_event(_log, "dlt645_simulator_stopped", port=self.port, **vars(self.stats))

    def _on_readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # the other end of the pty went away
            log_event(_log, "dlt645_simulator_lost", logging.WARNING, port=self.port, error=str(exc))
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
                claim = self.responder.claim(bytes(self._buffer))
                if isinstance(claim, NeedMore):
                    await self._wait_rest_of_frame()
                    break
                if not isinstance(claim, Mine):
                    self.stats.garbage += 1  # alone on this line: nobody else's either
                    del self._buffer[:1]
                    continue
                del self._buffer[: claim.used]
                if claim.request is not None:
                    await self._answer(fd, claim.request, arrived)

    async def _wait_rest_of_frame(self) -> None:
        try:
            async with asyncio.timeout(_STALE_PARTIAL_S):  # not wait_for: on 3.11 it can swallow a cancel
                await self._data.wait()
        except TimeoutError:
            self.stats.garbage += len(self._buffer)
            self._buffer.clear()

    async def _answer(self, fd: int, request: Request, arrived: float) -> None:
        reply = self.responder.respond(request)
        start = max(arrived, self._line_free_at)
        request_s = self.timing.bytes_s(request.size) if self.wire_timing else 0.0
        if reply is None:
            self._line_free_at = start + request_s
            return
        reply_s = self.timing.bytes_s(len(reply.frame)) if self.wire_timing else 0.0
        deadline = start + request_s + reply.delay_s + reply_s
        await sleep_until(deadline)
        try:
            os.write(fd, reply.frame)
        except OSError as exc:
            log_event(_log, "dlt645_simulator_write_failed", logging.WARNING, port=self.port, error=str(exc))
        self._line_free_at = time.perf_counter()
