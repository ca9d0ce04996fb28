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

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from drivers.modbus.simulator.device import SimulatedDevice
from drivers.modbus.simulator.responder import Responder, ServesDevices
from drivers.modbus.simulator.serial_path import SerialPath
from drivers.modbus.simulator.wire import WireTiming, sleep_until
from drivers.serialbus.simulated_port import PortEvents, SimulatedPort

if TYPE_CHECKING:
    from drivers.dlt645.simulator.meter import SimulatedMeter
    from drivers.dlt645.simulator.responder import Dlt645Responder


class _Sized(Protocol):
    @property
    def size(self) -> int: ...


class _Replied(Protocol):
    @property
    def frame(self) -> bytes: ...

    @property
    def delay_s(self) -> float: ...


R = TypeVar("R", bound=_Sized)


class SimulatedBus(ServesDevices, SimulatedPort):
    """Devices answering on one serial line. ``await start()`` / ``await stop()`` on a running loop."""

    _log = logging.getLogger(__name__)
    _events = PortEvents("simulator_serial_started", "simulator_serial_stopped", "simulator_serial_lost",
                         "simulator_write_failed")
    _task_name, _stale_partial_s = "simulator", 0.2

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
        super().__init__(port, baud, bytesize, parity, stopbits)
        self.timing = WireTiming(baud=baud, bytesize=bytesize, parity=parity, stopbits=stopbits)
        self.wire_timing = wire_timing
        self.path = path or SerialPath()
        self._responder = Responder(devices, "rtu")
        self.meter_responder: Dlt645Responder | None = None
        if meters:
            # imported here: drivers.dlt645.simulator builds on this package
            from drivers.dlt645.simulator.responder import Dlt645Responder

            self.meter_responder = Dlt645Responder(meters)
        self._bus_free_at = 0.0
        self.delay_errors_s: list[float] = []  # served minus modelled delay per answer, for tests

    def _started_fields(self) -> dict[str, Any]:
        return {"units": ",".join(str(u) for u in sorted(self.devices))}

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
