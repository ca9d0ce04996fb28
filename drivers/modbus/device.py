"""One polled device: plans its due points, reads them through the shared bus queue, decodes them.

A merged read answered with ILLEGAL DATA ADDRESS is bisected; the registers none of the halves
needed are remembered as illegal so no later plan spans them. A point whose own registers are
illegal is reported bad once and dropped from polling. None of it is forever (a booting device
refuses everything): learned ranges are re-probed with back-off, and a range read again brings its
points back (``device_learning.py``, ``reprobe.py``). After the first timeout a cycle stops:
a silent unit must not hold the shared RS-485 line for one timeout per planned request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable

from agent.errors import DeviceError, DeviceException, DeviceTimeout, TransportError
from agent.logs import log_event
from agent.records import JsonValue, PointValue, Quality, Reading, Record, new_reading
from drivers.base import RecordSink
from drivers.modbus.bus import BusQueue
from drivers.modbus.codec import CodecError, point_decoder
from drivers.modbus.deadline_wait import DeadlineWait
from drivers.modbus.device_learning import DeviceLearning
from drivers.modbus.device_types import CycleResult, DeviceCounters, DeviceSpec
from drivers.modbus.learned import IllegalRanges
from drivers.modbus.planner import PlannedRead, PlanPoint, plan_reads, split_read, uncovered
from drivers.modbus.profile import Point, ReadLimits
from drivers.modbus.reprobe import reprobe_due
from drivers.modbus.scheduler import Backoff, DeviceHealth, DeviceState, PollGrid, device_state_events
from drivers.modbus.transport import ReadRequest

log = logging.getLogger(__name__)

ILLEGAL_DATA_ADDRESS = 2
MAX_PAUSE_S = 3600.0  # nothing due (every point unreadable, nothing learned): still look up hourly


def _stop_if_cancelled() -> None:
    """pymodbus awaits ``asyncio.wait_for``, which on Python 3.11 can return a response that raced
    with our cancellation and drop the CancelledError; the task still knows it was cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class DevicePoller:
    def __init__(
        self,
        spec: DeviceSpec,
        bus: BusQueue,
        illegal: IllegalRanges | None = None,
        overhead_chars: float = 20.0,
        offline_after: int = 3,
        backoff_cap_s: float = 60.0,
        on_learn: Callable[[], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.bus = bus
        illegal = illegal if illegal is not None else IllegalRanges(wall=wall)
        self.learning = DeviceLearning(spec, illegal, wall)
        self.overhead_chars = overhead_chars
        self.health = DeviceHealth(offline_after=offline_after)
        base = min(spec.periods.values(), default=1.0)
        self.backoff = Backoff(base_s=base, cap_s=max(backoff_cap_s, base))
        self.counters = DeviceCounters()
        self.grid: PollGrid | None = None
        self._adhoc: dict[str, Point] = {}  # points read on request only, never polled
        self._plans: dict[frozenset[str], list[PlannedRead]] = {}
        # polled point -> (its decoder, its unit), built on first use
        self._decoders: dict[str, tuple[Callable[[list[int]], PointValue], str | None]] = {}
        self._on_learn = on_learn
        self._wall = wall
        self._pause = DeadlineWait()  # set_period: the wait for the old deadline ends early
        self._clock: Callable[[], float] = time.monotonic  # the grid's clock (run() may pass another)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def illegal(self) -> IllegalRanges:
        return self.learning.illegal

    @property
    def unreadable(self) -> set[str]:
        return self.learning.unreadable

    @property
    def limits(self) -> ReadLimits:
        return self.learning.limits

    @property
    def state(self) -> DeviceState:
        return self.health.state

    # ------------------------------------------------------------------------------------ polling

    async def run(
        self,
        sink: RecordSink,
        start_offset_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Poll on the grid, and re-probe what the device refused once that is due, until cancelled."""
        grid = PollGrid(self.spec.periods, origin=clock() + start_offset_s)
        self.grid = grid
        self._clock = clock
        while True:
            _stop_if_cancelled()
            wait = min(grid.next_deadline() - clock(), self._until_relearn(), MAX_PAUSE_S)
            if wait > 0:
                await self._pause.wait(wait, sleep)
            due = grid.due(clock())
            if due:
                await self._cycle(grid, due, sink, clock)
            if self._until_relearn() <= 0:
                await self._relearn()

    async def _cycle(self, grid: PollGrid, due: list[str], sink: RecordSink, clock: Callable[[], float]) -> None:
        result = await self.poll(due)
        for reading in result.readings:
            await sink.put(reading)
        finished = clock()
        grid.complete(due, finished)
        for record in self._account(result):
            await sink.put(record)
        if result.silent and not result.answered:
            grid.postpone(finished + self.backoff.failed())
        elif result.answered:
            self.backoff.succeeded()

    def _until_relearn(self) -> float:
        """Seconds until a re-probe is due; none while the device is offline (its polls find it first)."""
        if self.health.state is DeviceState.OFFLINE:
            return math.inf
        return self.learning.next_relearn_at() - self._wall()

    async def _relearn(self) -> None:
        """Ask the device again about what it refused; a range it reads now brings its points back."""
        changed = self.learning.restore_limit_if_due()
        outcome = await reprobe_due(self.bus, self.spec.unit, self.illegal, self.limits)
        self.counters.requests += outcome.requests
        for entry in outcome.forgotten:
            log_event(log, "illegal_range_forgotten", device=self.name, table=str(entry.table),
                      start=entry.start, end=entry.end, refusals=entry.refusals)
        for entry in outcome.refused:
            log_event(log, "illegal_range_refused_again", logging.DEBUG, device=self.name, table=str(entry.table),
                      start=entry.start, end=entry.end, refusals=entry.refusals)
        if outcome.forgotten:
            self._poll_again(self.learning.readmit())
        if changed or outcome.changed or outcome.silent:
            self._learned()  # the new back-off is saved too: a restart does not re-probe early

    def _account(self, result: CycleResult) -> list[Record]:
        self.counters.cycles += 1
        previous = self.health.state
        new = self.health.record(result.answered, result.failed)
        return device_state_events(log, self.name, previous, new, self._wall())

    async def poll(self, names: Iterable[str]) -> CycleResult:
        """Read the named points once (one cycle)."""
        result = CycleResult()
        plan = self._plan(frozenset(names))
        for read in plan:
            await self._read(read, result)
            _stop_if_cancelled()
            if result.silent:
                break
        return result

    def _plan(self, names: frozenset[str]) -> list[PlannedRead]:
        """The plan for this set of due points; the same sets come back every cycle, so plans are
        cached until the device teaches something (an illegal range, a lower limit)."""
        plan = self._plans.get(names)
        if plan is None:
            wanted = [n for n in names if n in self.spec.points and n not in self.unreadable]
            points = (PlanPoint.of(n, self.spec.points[n]) for n in wanted)
            plan = plan_reads(points, self.limits, self.illegal, self.overhead_chars)
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[names] = plan
        return plan

    async def _read(self, read: PlannedRead, result: CycleResult) -> bool:
        """Read one planned request into ``result``; True when its points got values."""
        # an offline device is probed without retries: each retry holds the shared line a timeout long
        retries = 0 if self.health.state is DeviceState.OFFLINE else None
        self.counters.requests += 1
        try:
            response = await self.bus.execute(
                ReadRequest(self.spec.unit, read.table, read.address, read.count), retries
            )
        except DeviceTimeout:
            self.counters.timeouts += 1
            result.failed += 1
            result.silent = True
            return False
        except DeviceException as exc:
            self.counters.exceptions += 1
            result.answered += 1
            if exc.exception_code == ILLEGAL_DATA_ADDRESS:
                return await self._illegal(read, result)
            result.failed += 1
            self._bad(read.points, result, f"exception {exc.exception_code}")
            return False
        except (TransportError, DeviceError) as exc:
            self.counters.errors += 1
            result.failed += 1
            result.silent = True
            log_event(log, "read_failed", logging.DEBUG, device=self.name, reason=str(exc))
            return False
        ts = self._wall()
        self.counters.last_read_ts = ts
        result.answered += 1
        if self.illegal.overlaps(read.table, read.address, read.end):
            # a lone point read again (after a restart, or by a technician) proves its range legal
            self._poll_again(self.learning.proven_legal(read.table, read.address, read.end))
            self._learned()
        for point in read.points:
            offset = point.address - read.address
            result.readings.append(self._decode(point, response.values[offset : offset + point.count], ts))
        self.counters.readings += len(read.points)
        return True

    def _decode(self, plan_point: PlanPoint, words: list[int], ts: float) -> Reading:
        name = plan_point.name
        known = self._decoders.get(name)
        if known is None:
            point = self._point(name)
            known = (point_decoder(point), point.unit)
            if name in self.spec.points:  # an ad-hoc point may be another Point next time
                self._decoders[name] = known
        decoder, unit = known
        try:
            value = decoder(words)
        except CodecError as exc:
            self.counters.decode_errors += 1
            log_event(log, "decode_failed", logging.DEBUG, device=self.name, point=name, reason=str(exc))
            return Reading(self.name, name, None, ts, unit, Quality.BAD)
        return new_reading(self.name, name, value, ts, unit, Quality.GOOD)

    def _bad(self, points: Iterable[PlanPoint], result: CycleResult, reason: str) -> None:
        ts = self._wall()
        for p in points:
            unit = self._point(p.name).unit
            result.readings.append(Reading(self.name, p.name, None, ts, unit, Quality.BAD))
        log_event(log, "read_exception", logging.DEBUG, device=self.name, reason=reason)

    async def _illegal(self, read: PlannedRead, result: CycleResult) -> bool:
        if len(read.points) == 1:
            point = read.points[0]
            if point.name in self.spec.points:
                self.learning.point_refused(point.name, read.table, read.address, read.end)
            else:
                self.illegal.add(read.table, read.address, read.end)  # an ad-hoc read: nothing to drop
            if self.grid is not None:
                self.grid.remove(point.name)
            result.failed += 1
            self._bad(read.points, result, "illegal data address")
            log_event(log, "point_unreadable", logging.WARNING, device=self.name, point=point.name,
                      table=str(read.table), address=read.address)
            self._learned()
            return False
        first, second = split_read(read)
        ok_first = await self._read(first, result)
        if result.silent:
            return False
        ok_second = await self._read(second, result)
        learned = False
        for start, end in self.learning.not_points(read.table, uncovered(read, (first, second))):
            learned |= self.illegal.add(read.table, start, end)
        if ok_first and ok_second and not learned:
            # every register was legal, yet the whole span was refused: the device reads fewer at once
            self.learning.lower_limit(read)
            learned = True
        if learned:
            spans = [(e.start, e.end) for e in self.illegal if e.table is read.table]
            log_event(log, "illegal_range_learned", device=self.name, table=str(read.table), ranges=str(spans))
            self._learned()
        return ok_first and ok_second

    def _learned(self) -> None:
        self._plans.clear()
        if self._on_learn is not None:
            self._on_learn()

    def _poll_again(self, names: list[str]) -> None:
        """Points back from unreadable: on the grid again from its next slot."""
        if self.grid is None:
            return
        now = self._clock()
        for name in names:
            self.grid.set_period(name, self.spec.periods[name], now)
        self._pause.wake()

    def forget_learned(self) -> dict[str, JsonValue]:
        """Forget the ranges, unreadable points and read limit learned (technician's request)."""
        back = sorted(self.unreadable)
        forgotten = self.learning.forget()
        self._poll_again(back)
        self._learned()
        return forgotten

    def resume(self) -> None:
        """The bus is back: poll now rather than when the back-off of the outage ends."""
        self.backoff.succeeded()
        if self.grid is not None:
            now = self._clock()
            for name, period in list(self.grid.periods.items()):
                self.grid.set_period(name, period, now)
        self._pause.wake()

    # ----------------------------------------------------------------------------------- one-off

    def _point(self, name: str) -> Point:
        return self.spec.points.get(name) or self._adhoc[name]

    async def read_point(self, name: str, point: Point | None = None) -> Reading:
        """Read one point now, whatever its schedule (technician, downlink ``read``)."""
        if point is not None and name not in self.spec.points:
            self._adhoc[name] = point
        point = self._point(name)
        result = CycleResult()
        read = PlannedRead(point.table, point.address, PlanPoint.of(name, point).count, (PlanPoint.of(name, point),))
        await self._read(read, result)
        if not result.readings:
            raise DeviceTimeout(self.name, f"no answer reading {name}")
        return result.readings[0]

    def set_period(self, point: str | None, period_s: float, now: float) -> None:
        targets = list(self.spec.points) if point is None else [point]
        for name in targets:
            self.spec.periods[name] = period_s
            if self.grid is not None and name not in self.unreadable:
                self.grid.set_period(name, period_s, now)
        self._pause.wake()

    def status(self) -> dict[str, JsonValue]:
        c = self.counters
        return {
            "state": str(self.health.state),
            "unit": self.spec.unit,
            "last_read_ts": c.last_read_ts,
            "cycles": c.cycles,
            "missed_cycles": self.grid.missed_cycles if self.grid else 0,
            "requests": c.requests,
            "readings": c.readings,
            "timeouts": c.timeouts,
            "exceptions": c.exceptions,
            "errors": c.errors,
            "decode_errors": c.decode_errors,
            **self.learning.status(),
            # per attempt on the wire, as the bus saw them: late/stray frames count on their sender
            "line": self.bus.counters.of(self.spec.unit).as_json(),
        }
