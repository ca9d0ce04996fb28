"""Simulated DL/T 645 meters on a serial port (usually one end of a socat pty pair), with wire timing.

A pty delivers at once; a real line at 2400 baud 8E1 takes 11 bits per byte. A reply therefore
leaves only once the request and the reply bytes and the meter's turnaround would have passed on a
real line (``WireTiming``), and the line stays busy until then, so a master that does not wait is
held back as the real bus would hold it back. Requests for no simulated meter get silence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Literal

from drivers.dlt645.simulator.meter import SimulatedMeter
from drivers.dlt645.simulator.responder import Dlt645Responder, LineStats, Mine, NeedMore, Request
from drivers.modbus.simulator.wire import WireTiming, sleep_until
from drivers.serialbus.simulated_port import PortEvents, SimulatedPort


class SimulatedDlt645Line(SimulatedPort):
    """Meters answering on one serial line. ``await start()`` / ``await stop()`` on a running loop."""

    _log = logging.getLogger(__name__)
    _events = PortEvents(*(f"dlt645_simulator_{e}" for e in ("started", "stopped", "lost", "write_failed")))
    _task_name, _stale_partial_s = "dlt645-simulator", 0.5

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
        super().__init__(port, baud, bytesize, parity, stopbits)
        self.timing = WireTiming(baud=baud, bytesize=bytesize, parity=parity, stopbits=stopbits)
        self.wire_timing = wire_timing
        self.responder = Dlt645Responder(meters)
        self._line_free_at = 0.0

    @property
    def stats(self) -> LineStats:
        return self.responder.stats

    @property
    def meters(self) -> dict[str, SimulatedMeter]:
        return self.responder.meters

    def set_faults(self, address: str, faults: list[str] | None) -> None:
        self.meters[address].set_faults(list(faults or []))

    def _started_fields(self) -> dict[str, Any]:
        return {"meters": ",".join(sorted(self.meters))}

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
        self._write(fd, reply.frame)
        self._line_free_at = time.perf_counter()
