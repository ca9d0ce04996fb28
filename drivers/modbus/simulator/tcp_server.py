"""Simulated devices behind a TCP listener: Modbus TCP (MBAP framing) or RTU over TCP.

RTU over TCP stands for a serial server on a pole: the devices share one RS-485 line behind it, so
with ``wire_timing`` the answers of all connections are serialised through one modelled line. Modbus
TCP answers after the device turnaround (plus any ``slow`` fault) only. Requests on one connection
are answered in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from agent.errors import TransportError
from agent.logs import log_event
from drivers.modbus.simulator.device import SimulatedDevice
from drivers.modbus.simulator.responder import Framing, Request, Responder, ServesDevices
from drivers.modbus.simulator.wire import WireTiming, sleep_until

_log = logging.getLogger(__name__)


class SimulatedTcpServer(ServesDevices):
    """Serve ``devices`` on ``host:port``; port 0 picks a free port (read ``.port`` after start)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        devices: Sequence[SimulatedDevice] = (),
        *,
        framing: Framing = "socket",
        wire_timing: WireTiming | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.framing: Framing = framing
        self.timing = wire_timing
        self._responder = Responder(devices, framing)
        self._server: asyncio.Server | None = None
        self._line = asyncio.Lock()  # the modelled serial line behind an RTU-over-TCP server
        self._bus_free_at = 0.0
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        except OSError as exc:
            raise TransportError(f"simulator cannot listen on {self.host}:{self.port}: {exc}") from None
        self.port = self._server.sockets[0].getsockname()[1]
        log_event(
            _log, "simulator_tcp_started", logging.DEBUG, host=self.host, port=self.port,
            framing=self.framing, units=",".join(str(u) for u in sorted(self.devices)),
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()
        self._server = None

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        buffer = bytearray()
        try:
            while chunk := await reader.read(4096):
                arrived = time.perf_counter()
                buffer += chunk
                while buffer:
                    used, request = self._responder.decode(bytes(buffer))
                    if used == 0:
                        break
                    del buffer[:used]
                    if request is not None:
                        await self._answer(writer, request, arrived)
        except (ConnectionError, OSError):
            pass  # the client hung up; nothing to answer
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer(self, writer: asyncio.StreamWriter, request: Request, arrived: float) -> None:
        if self.timing is None:
            reply = self._responder.respond(request)
            if reply is None:
                return
            if reply.delay_s > 0:
                await asyncio.sleep(reply.delay_s)
            writer.write(reply.frame)
            await writer.drain()
            return
        async with self._line:
            reply = self._responder.respond(request)
            start = max(arrived, self._bus_free_at)
            if reply is None:
                self._bus_free_at = start + self.timing.bytes_s(request.size) + self.timing.silence_s
                return
            deadline = start + self.timing.response_delay_s(request.size, len(reply.frame), reply.delay_s)
            await sleep_until(deadline)
            writer.write(reply.frame)
            self._bus_free_at = time.perf_counter() + self.timing.guard_s
        await writer.drain()
