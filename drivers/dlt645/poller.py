"""One polled DL/T 645 meter: its due points, one data item per request, on a drift-free grid.

DL/T 645 reads one data identifier per request, so there is nothing to merge. After the first
timeout a cycle stops: a silent meter must not hold the shared line one timeout per point. An
abnormal reply (the meter does not have the item) or a damaged one gives that point a bad reading
and the cycle goes on. Online/offline and the back-off of a silent meter are the Modbus devices'
(``drivers.modbus.scheduler``), so both protocols on one line behave alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from agent.errors import DeviceException, DeviceTimeout, FramingError, TransportError
from agent.logs import log_event
from agent.records import JsonValue, PointValue, Quality, Reading, Record
from drivers.base import RecordSink
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bus import MeterBus
from drivers.dlt645.master import SenderCounters
from drivers.dlt645.profile import Dlt645Point
from drivers.dlt645.requests import Dlt645Transaction, read_data
from drivers.modbus.scheduler import Backoff, DeviceHealth, DeviceState, PollGrid, device_state_events

log = logging.getLogger(__name__)


@dataclass
class MeterCounters:
    cycles: int = 0
    requests: int = 0
    readings: int = 0
    timeouts: int = 0
    abnormal: int = 0
    errors: int = 0
    last_read_ts: float | None = None


@dataclass
class CycleResult:
    readings: list[Reading] = field(default_factory=list)
    answered: int = 0
    failed: int = 0
    silent: bool = False


@dataclass(frozen=True)
class MeterSpec:
    name: str
    address: MeterAddress
    points: dict[str, Dlt645Point]  # the polled points
    periods: dict[str, float]
    timeout_s: float


def scaled(value: PointValue, scale: float) -> PointValue:
    if scale == 1.0 or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return round(value * scale, 9)


class MeterPoller:
    def __init__(
        self,
        spec: MeterSpec,
        bus: MeterBus,
        offline_after: int = 3,
        backoff_cap_s: float = 60.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.bus = bus
        self.health = DeviceHealth(offline_after=offline_after)
        base = min(spec.periods.values(), default=1.0)
        self.backoff = Backoff(base_s=base, cap_s=max(backoff_cap_s, base))
        self.counters = MeterCounters()
        self.grid: PollGrid | None = None
        self._wall = wall
        self._wake = asyncio.Event()
        self._requests: dict[str, Dlt645Transaction[PointValue]] = {}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def state(self) -> DeviceState:
        return self.health.state

    async def run(self, sink: RecordSink, start_offset_s: float = 0.0) -> None:
        """Poll on the grid until cancelled."""
        grid = PollGrid(self.spec.periods, origin=time.monotonic() + start_offset_s)
        self.grid = grid
        while True:
            wait = grid.next_deadline() - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                self._wake.clear()
            due = grid.due(time.monotonic())
            if due:
                await self._cycle(grid, due, sink)

    def resume(self) -> None:
        """The bus is back: poll now, not when the outage's back-off ends."""
        self.backoff.succeeded()
        if self.grid is not None:
            for name, period in self.grid.periods.items():
                self.grid.set_period(name, period, time.monotonic())
        self._wake.set()

    def set_period(self, point: str | None, period_s: float) -> None:
        """Poll ``point`` (every polled point when None) every ``period_s`` from now on."""
        names = list(self.spec.points) if point is None else [point]
        for name in names:
            self.spec.periods[name] = period_s
            if self.grid is not None:
                self.grid.set_period(name, period_s, time.monotonic())
        self._wake.set()

    async def _cycle(self, grid: PollGrid, due: list[str], sink: RecordSink) -> None:
        result = await self.poll(due)
        for reading in result.readings:
            await sink.put(reading)
        finished = time.monotonic()
        grid.complete(due, finished)
        for record in self._account(result):
            await sink.put(record)
        if result.silent and not result.answered:
            grid.postpone(finished + self.backoff.failed())
        elif result.answered:
            self.backoff.succeeded()

    async def poll(self, names: Iterable[str]) -> CycleResult:
        """Read the named points once (one cycle)."""
        result = CycleResult()
        # an offline meter is probed without retries: each retry holds the shared line a timeout long
        retries = 0 if self.health.state is DeviceState.OFFLINE else None
        for name in names:
            point = self.spec.points.get(name)
            if point is None:
                continue
            self.counters.requests += 1
            try:
                value = await self.bus.read(self._request(name, point), retries)
            except DeviceTimeout:
                self.counters.timeouts += 1
                result.failed += 1
                result.silent = True
                break
            except (DeviceException, FramingError) as exc:  # refused (abnormal reply) or answered unusably
                if isinstance(exc, DeviceException):
                    self.counters.abnormal += 1
                    result.answered += 1
                else:
                    self.counters.errors += 1
                result.failed += 1
                result.readings.append(Reading(self.name, name, None, self._wall(), point.unit, Quality.BAD))
                log_event(log, "read_failed", logging.DEBUG, device=self.name, point=name, reason=str(exc))
                continue
            except TransportError as exc:
                self.counters.errors += 1
                result.failed += 1
                result.silent = True
                log_event(log, "read_failed", logging.DEBUG, device=self.name, reason=str(exc))
                break
            ts = self._wall()
            self.counters.last_read_ts = ts
            self.counters.readings += 1
            result.answered += 1
            result.readings.append(Reading(self.name, name, scaled(value, point.scale), ts, point.unit))
        return result

    async def read_point(self, name: str, point: Dlt645Point) -> Reading:
        """One read for a caller (a technician, a downlink command); errors are raised, not readings."""
        value = await self.bus.read(self._request(name, point))
        return Reading(self.name, name, scaled(value, point.scale), self._wall(), point.unit)

    def _request(self, name: str, point: Dlt645Point) -> Dlt645Transaction[PointValue]:
        tx = self._requests.get(name)
        if tx is None:
            spec = self.spec
            tx = read_data(spec.address, point.data_id, point.data_format, point.signed, spec.timeout_s, spec.name)
            self._requests[name] = tx
        return tx

    def _account(self, result: CycleResult) -> list[Record]:
        self.counters.cycles += 1
        previous = self.health.state
        new = self.health.record(result.answered, result.failed)
        return device_state_events(log, self.name, previous, new, self._wall())

    def status(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"state": str(self.state), "address": self.spec.address.digits}
        out.update(asdict(self.counters))
        counters = self.bus.master.counters.senders.get(self.spec.address.digits) or SenderCounters()
        out["line"] = counters.as_json()
        if self.grid is not None:
            out["missed_cycles"] = self.grid.missed_cycles
        return out
