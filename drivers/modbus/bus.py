"""Request queues: one per bus, shared by every device on it.

An RS-485 line is half duplex: one request on the wire at a time, and 3.5 characters of silence
between a response and the next request. ``SerialBusQueue`` enforces both with one FIFO lock. A TCP
endpoint takes up to ``max_connections`` requests at once, one per connection (``TcpBusQueue``).
Retries of timed-out reads happen here, inside the queue slot, so a retry never jumps the queue.
A write is never sent twice: one whose reply did not come (or did not match) may have been applied,
so it ends as ``WriteOutcomeUnknown`` and the caller decides. A read to the broadcast unit 0 is
refused before it reaches the wire. Per-unit line counters (``LineCounters``) are shared with the
transport, which counts what only it can see (CRC errors, mismatched and late frames).
Each connection has a ``LinkKeeper`` (``drivers.serialbus.link``) that opens and reopens it when it
is missing or lost; ``keep_open`` runs them, and a request on a connection that is down fails at once.
A serial bus runs on its port's ``SharedLine`` (``drivers.serialbus``): the port, its keeper and its
queue are shared with every other bus on the same port, of this driver or another protocol's.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from agent.errors import (
    DeviceException,
    DeviceTimeout,
    FramingError,
    RequestRefused,
    TransportError,
    WriteOutcomeUnknown,
)
from agent.records import JsonValue
from drivers.modbus.config import SerialBus, TcpBus
from drivers.modbus.line_counters import LineCounters
from drivers.modbus.rtu_transport import RtuTransport
from drivers.modbus.transport import (
    BROADCAST_UNIT,
    ModbusRequest,
    PymodbusTransport,
    ReadDeviceId,
    ReadRequest,
    Response,
    Transport,
)
from drivers.serialbus.line import LineSettings, SharedLine
from drivers.serialbus.lines import acquire_line
from drivers.serialbus.link import LinkKeeper, LinkState, OnChange

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class BusStats:
    requests: int = 0
    timeouts: int = 0
    exceptions: int = 0
    errors: int = 0
    busy_s: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def as_json(self, now: float, slots: int = 1) -> dict[str, JsonValue]:
        elapsed = max(now - self.started, 1e-9)
        return {
            "requests": self.requests,
            "timeouts": self.timeouts,
            "exceptions": self.exceptions,
            "errors": self.errors,
            "utilisation": round(min(self.busy_s / (elapsed * slots), 1.0), 4),
        }


class BusQueue(ABC):
    """Where devices send their requests. ``execute`` waits for a slot, then for the response."""

    def __init__(
        self, name: str, retries: int, clock: Clock = time.monotonic, counters: LineCounters | None = None
    ) -> None:
        self.name = name
        self.retries = retries
        self.stats = BusStats(started=clock())
        self.counters = counters if counters is not None else LineCounters()
        self._clock = clock
        self.links: list[LinkKeeper] = []

    @abstractmethod
    async def open(self) -> None:
        """Open now; raises ``TransportError`` when that fails (the links remember why)."""

    async def close(self) -> None:
        for link in self.links:
            await link.transport.close()
            link.closed()

    async def keep_open(self, on_change: OnChange) -> None:
        """Reopen missing or lost connections until cancelled; ``on_change`` hears every state change."""
        async with asyncio.TaskGroup() as group:
            for index, link in enumerate(self.links):
                group.create_task(link.keep(on_change), name=f"bus[{self.name}].link{index}")

    @property
    def link_state(self) -> LinkState:
        """The bus's state: open when every connection is, else the first one's that is not."""
        return next((link.state for link in self.links if not link.is_open), LinkState.OPEN)

    @abstractmethod
    async def execute(self, request: ModbusRequest, retries: int | None = None) -> Response:
        """Send ``request`` and return its response; ``retries`` overrides the bus default."""

    def status(self) -> dict[str, JsonValue]:
        return {**self._link_status(), **self.stats.as_json(self._clock()), "line": self.counters.totals()}

    def _link_status(self) -> dict[str, JsonValue]:
        link = next((k for k in self.links if not k.is_open), self.links[0] if self.links else None)
        return link.status() if link is not None else {}

    def _refuse(self, request: ModbusRequest) -> None:
        """A request that must never reach the wire, refused before it waits for a slot or a link."""
        if request.unit == BROADCAST_UNIT and isinstance(request, ReadRequest | ReadDeviceId):
            raise RequestRefused(f"{self.name}: a read cannot go to the broadcast unit 0")

    async def _attempts(self, transport: Transport, request: ModbusRequest, retries: int) -> Response:
        is_read = isinstance(request, ReadRequest | ReadDeviceId)
        unit = self.counters.of(request.unit)
        attempt = 0
        while True:
            started = self._clock()
            self.stats.requests += 1
            try:
                return await transport.execute(request)
            except (DeviceTimeout, FramingError) as exc:
                if isinstance(exc, DeviceTimeout):
                    self.stats.timeouts += 1
                    unit.timeouts += 1
                else:
                    self.stats.errors += 1
                if not is_read:
                    # it went on the wire and may have been applied: never resend a write blindly
                    raise WriteOutcomeUnknown(exc.device, str(exc).removeprefix(f"{exc.device}: ")) from exc
                if attempt >= retries:
                    raise
            except DeviceException:
                self.stats.exceptions += 1
                unit.exceptions += 1
                raise
            except TransportError:
                self.stats.errors += 1
                raise
            finally:
                self._finished(started)
            attempt += 1
            unit.retries += 1
            await self._between_attempts()

    def _finished(self, started: float) -> None:
        self.stats.busy_s += self._clock() - started

    async def _between_attempts(self) -> None:
        return None


class SerialBusQueue(BusQueue):
    """One request at a time, FIFO, with the inter-frame silence kept between frames. On a
    ``SharedLine`` the FIFO is the line's, shared with every other bus (and protocol) on the port."""

    def __init__(
        self,
        name: str,
        transport: Transport,
        frame_gap_s: float,
        retries: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        counters: LineCounters | None = None,
        link: LinkKeeper | None = None,
        line: SharedLine | None = None,
        user: RtuTransport | None = None,
    ) -> None:
        super().__init__(name, retries, clock, counters)
        self.transport = transport
        self.line = line
        self._user = user
        self.link = line.keeper if line is not None else link or LinkKeeper(name, transport, transport.name)
        self.links = [self.link]
        self.frame_gap_s = frame_gap_s
        self._sleep = sleep
        self._lock = asyncio.Lock()  # FIFO: waiters are served in arrival order (no shared line)
        self._quiet_since = clock() - frame_gap_s
        self.in_flight = 0  # never above 1; asserted by tests

    async def open(self) -> None:
        await (self.line.open() if self.line is not None else self.link.open())

    async def close(self) -> None:
        line, self.line = self.line, None
        if line is None:
            await super().close()
            return
        line.report_load(self, None)
        if self._user is not None:
            line.detach(self._user)
        line.release()
        self.links = []  # given back: a second close does nothing

    async def keep_open(self, on_change: OnChange) -> None:
        if self.line is None:
            await super().keep_open(on_change)
        else:
            await self.line.keep(self.name, on_change)

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        if self.line is not None:
            async with self.line.turn(self._user):
                yield
        else:
            async with self._lock:
                self.link.check()
                yield

    async def execute(self, request: ModbusRequest, retries: int | None = None) -> Response:
        self._refuse(request)
        async with self._turn():
            await self._keep_silence()
            self.in_flight += 1
            try:
                return await self._attempts(self.transport, request, self.retries if retries is None else retries)
            finally:
                self.in_flight -= 1

    def status(self) -> dict[str, JsonValue]:
        out = super().status()
        if self.line is not None and self.line.holders > 1:
            out["shared_line"] = self.line.status()
        return out

    async def _keep_silence(self) -> None:
        wait = self._quiet_since + self.frame_gap_s - self._clock()
        if wait > 0:
            await self._sleep(wait)

    def _finished(self, started: float) -> None:
        super()._finished(started)
        self._quiet_since = self._clock()

    async def _between_attempts(self) -> None:
        await self._keep_silence()


class TcpBusQueue(BusQueue):
    """Up to ``len(transports)`` requests in flight, one per connection."""

    def __init__(
        self,
        name: str,
        transports: Sequence[Transport],
        retries: int = 1,
        clock: Clock = time.monotonic,
        counters: LineCounters | None = None,
        links: Sequence[LinkKeeper] | None = None,
    ) -> None:
        super().__init__(name, retries, clock, counters)
        self.transports = list(transports)
        self.links = list(links) if links is not None else [LinkKeeper(name, t, t.name) for t in self.transports]
        self._link_of = {id(link.transport): link for link in self.links}
        self._idle: asyncio.Queue[Transport] = asyncio.Queue()
        for transport in self.transports:
            self._idle.put_nowait(transport)
        self.in_flight = 0
        self.max_in_flight = 0

    async def open(self) -> None:
        # the first one must open now (a wrong address shows at start); the others are kept open later
        await self.links[0].open()
        for link in self.links[1:]:
            try:
                await link.open()
            except TransportError:
                continue

    async def execute(self, request: ModbusRequest, retries: int | None = None) -> Response:
        self._refuse(request)
        transport = await self._idle.get()
        link = self._link_of.get(id(transport))
        if link is not None and link.state.down:
            self._idle.put_nowait(transport)
            link.check()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._attempts(transport, request, self.retries if retries is None else retries)
        finally:
            self.in_flight -= 1
            self._idle.put_nowait(transport)

    def status(self) -> dict[str, JsonValue]:
        opened = sum(1 for link in self.links if link.is_open)
        stats = self.stats.as_json(self._clock(), slots=len(self.transports))
        return {**self._link_status(), "open_connections": opened, **stats, "line": self.counters.totals()}


def build_bus_queue(bus: SerialBus | TcpBus, sweep: bool = False) -> BusQueue:
    """One queue per bus, a ``LinkKeeper`` per connection. RTU frames (a serial line, RTU over TCP)
    go through our own master, Modbus TCP through pymodbus. ``sweep``: a scan asking each unit once
    (after a timeout the line is held for that unit only)."""
    reopen = (bus.reopen_min_s, bus.reopen_max_s)
    counters = LineCounters()
    if isinstance(bus, SerialBus):
        settings = LineSettings(bus.port, bus.baudrate, bus.bytesize, bus.parity, bus.stopbits)
        line = acquire_line(bus.name, settings, *reopen)
        transport = RtuTransport.for_bus(bus, counters, sweep, link=line.link)
        line.attach(transport)
        return SerialBusQueue(
            bus.name, transport, bus.frame_gap_s, bus.retries, counters=counters, line=line, user=transport
        )
    transports: list[Transport]
    if bus.transport == "rtu-over-tcp":
        transports = [RtuTransport.over_tcp(bus, counters) for _ in range(bus.max_connections)]
    else:
        transports = [PymodbusTransport.for_bus(bus) for _ in range(bus.max_connections)]
    endpoint = f"{bus.host}:{bus.port}"
    links = [LinkKeeper(bus.name, t, endpoint, *reopen) for t in transports]
    return TcpBusQueue(bus.name, transports, bus.retries, counters=counters, links=links)
