"""The Modbus driver: buses, their devices' pollers, writes and raw access for the technician.

``open`` resolves every device against its firmware profile (a bad reference or point name is a
``ConfigError`` naming the field), builds one request queue per bus and tries to connect. ``run``
keeps every bus open (a port missing at start or unplugged later is reopened with back-off, each
change a ``bus_state`` event) and polls every device on its own grid, staggered so devices don't
all start at t=0. What devices taught (illegal ranges) is kept in the state dir, with its re-probe times.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent.errors import ConfigError, PermanentError, RequestRefused, TransportError, WriteRejected
from agent.logs import log_event
from agent.records import Event, JsonValue, PointValue, Priority, Reading
from agent.rules import PointRule
from drivers.base import DeviceInfo, Driver, DriverConfigBase, DriverContext, PeriodRefused, PointSpec, RecordSink
from drivers.capabilities import RawAccess, RawArgs
from drivers.modbus.bus import BusQueue, SerialBusQueue, build_bus_queue
from drivers.modbus.bus_load import ReadTime, load, min_period_s
from drivers.modbus.config import Device, ModbusDriverConfig, SerialBus
from drivers.modbus.device import DevicePoller
from drivers.modbus.device_types import DeviceSpec
from drivers.modbus.identify import ProfileMatch, identify
from drivers.modbus.learned import IllegalRanges, ReprobePolicy
from drivers.modbus.learned_store import LearnedStore, Snapshot
from drivers.modbus.planner import overhead_chars, wire_time_s
from drivers.modbus.point_specs import point_specs_of
from drivers.modbus.profile import Profile, Table
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.raw_limits import check_raw_read, check_raw_write
from drivers.modbus.raw_verbs import VERBS, run_verb
from drivers.modbus.resolve import point_rules_for, resolve_device
from drivers.modbus.scheduler import stagger_offset
from drivers.modbus.transport import ReadRequest, WriteCoils, WriteRegisters
from drivers.modbus.write_safety import written_value
from drivers.modbus.writes import plan_write, send_write
from drivers.serialbus.link import LinkChange

log = logging.getLogger(__name__)

# A TCP request costs a round trip more than its bytes: merge more eagerly than on a serial line.
TCP_OVERHEAD_CHARS = 100.0


class UnknownTarget(PermanentError):
    """A read, write or period change names a device, point or bus this driver does not have."""


class ModbusDriver(Driver[ModbusDriverConfig], RawAccess):
    config_model = ModbusDriverConfig

    def __init__(
        self,
        config: ModbusDriverConfig,
        context: DriverContext,
        registry: ProfileRegistry | None = None,
    ) -> None:
        super().__init__(config, context)
        self._registry = registry
        self.buses: dict[str, BusQueue] = {}
        self.pollers: dict[str, DevicePoller] = {}
        self.profiles: dict[str, Profile] = {}
        self._devices: dict[str, Device] = {d.name: d for d in config.devices}
        self._saver: asyncio.Task[None] | None = None  # the one task writing learned ranges
        self._save_again = False
        self._policy = ReprobePolicy(config.reprobe_after_s, config.reprobe_max_s)
        path = context.state_dir / "modbus" / f"{self.name}.illegal.json"
        self._store = LearnedStore(path, self._policy, config.learned_ranges_file)

    @classmethod
    def check_config(
        cls, config: DriverConfigBase, profile_dirs: Sequence[Path] | None = None
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Every device's profile reference, point selection and alarm overrides resolve."""
        assert isinstance(config, ModbusDriverConfig)
        registry = ProfileRegistry.load_cached(site_dirs=profile_dirs)
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, device in enumerate(config.devices):
            try:
                resolve_device(device, registry, config.default_period_s)
            except ConfigError as exc:
                for problem in exc.problems:
                    field, _, message = problem.partition(": ")
                    problems.append((("devices", index, field), message))
        return problems

    @classmethod
    def configured_points(cls, config: DriverConfigBase) -> dict[str, frozenset[str]] | None:
        """Each device's polled points (a device whose profile does not resolve has none: check_config says why)."""
        assert isinstance(config, ModbusDriverConfig)
        registry = ProfileRegistry.load_cached()
        points: dict[str, frozenset[str]] = {}
        for device in config.devices:
            try:
                spec, _ = resolve_device(device, registry, config.default_period_s)
            except ConfigError:
                points[device.name] = frozenset()
                continue
            points[device.name] = frozenset(spec.points)
        return points

    # ------------------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        registry = self._registry
        if registry is None:
            registry = await asyncio.to_thread(ProfileRegistry.load_cached, site_dirs=self.context.profile_dirs)
            for problem in registry.errors:
                log_event(log, "profile_invalid", logging.WARNING, problem=problem)
        problems: list[str] = []
        specs: dict[str, tuple[DeviceSpec, Profile]] = {}
        for index, device in enumerate(self.config.devices):
            try:
                specs[device.name] = resolve_device(device, registry, self.config.default_period_s)
            except ConfigError as exc:
                problems.extend(f"{self.name}.devices[{index}].{p}" for p in exc.problems)
        if problems:
            raise ConfigError(problems)
        self._registry = registry
        learned = await asyncio.to_thread(self._store.load)
        self.buses = {bus.name: build_bus_queue(bus) for bus in self.config.buses}
        for name, (spec, profile) in specs.items():
            device = self._devices[name]
            bus_config = self.config.bus(device.bus)
            if isinstance(bus_config, SerialBus):
                turnaround = profile.limits.turnaround_ms / 1000.0
                cost = overhead_chars(bus_config.baudrate, bus_config.parity, bus_config.stopbits, turnaround)
            else:
                cost = TCP_OVERHEAD_CHARS
            self.profiles[name] = profile
            self.pollers[name] = DevicePoller(
                spec,
                self.buses[device.bus],
                illegal=learned.get(name) or IllegalRanges(policy=self._policy),
                overhead_chars=cost,
                offline_after=self.config.offline_after,
                backoff_cap_s=self.config.backoff_max_s,
                on_learn=self._schedule_save,
            )
        for name, bus in self.buses.items():
            if isinstance(bus, SerialBusQueue) and bus.line is not None:  # for other protocols' period checks
                bus.line.report_load(bus, functools.partial(self._bus_load, name))
            # a port missing now is logged by its link and reopened by run(); the devices wait meanwhile
            with contextlib.suppress(TransportError):
                await bus.open()

    async def run(self, sink: RecordSink) -> None:
        """Keep the buses open and poll until cancelled (buses only: returning would close them)."""
        count = len(self.pollers)

        async def on_change(change: LinkChange) -> None:
            await self._bus_changed(change, sink)

        async with asyncio.TaskGroup() as group:
            for bus in self.buses.values():
                group.create_task(bus.keep_open(on_change), name=f"modbus[{self.name}].bus.{bus.name}")
            if not count:
                group.create_task(asyncio.Event().wait(), name=f"modbus[{self.name}].idle")
            for index, poller in enumerate(self.pollers.values()):
                period = min(poller.spec.periods.values(), default=self.config.default_period_s)
                group.create_task(
                    poller.run(sink, stagger_offset(index, count, period)),
                    name=f"modbus[{self.name}].{poller.name}",
                )

    async def close(self) -> None:
        for bus in self.buses.values():
            await bus.close()
        if self._saver is not None:
            await asyncio.gather(self._saver, return_exceptions=True)

    async def _bus_changed(self, change: LinkChange, sink: RecordSink) -> None:
        data: dict[str, JsonValue] = {"state": str(change.state), "previous": str(change.previous), "port": change.port}
        if change.reason:
            data["reason"] = change.reason
        priority = Priority.ALARM if change.state.down else Priority.EVENT
        await sink.put(Event(device=change.bus, kind="bus_state", ts=time.time(), priority=priority, data=data))
        if change.state.down or not change.previous.down:
            return  # only a recovery cuts the devices' back-off short (not the first open: keep the stagger)
        for poller in self.pollers.values():
            if poller.bus is self.buses.get(change.bus):
                poller.resume()  # back: poll now, not when the outage's back-off ends

    # ------------------------------------------------------------------- learned illegal ranges

    def _schedule_save(self) -> None:
        """Ask for the learned ranges to be written. One writer at a time, and it always writes the
        newest state: two threads writing the same ``.tmp`` could land an older snapshot last."""
        if not self.config.learned_ranges_file:
            return
        self._save_again = True
        if self._saver is None or self._saver.done():
            self._saver = asyncio.get_running_loop().create_task(
                self._save_while_changed(), name=f"modbus[{self.name}].save_learned"
            )

    async def _save_while_changed(self) -> None:
        while self._save_again:
            self._save_again = False
            snapshot = {name: p.illegal.as_dict() for name, p in self.pollers.items() if p.illegal}
            await asyncio.to_thread(self._save_learned, snapshot)

    def _save_learned(self, snapshot: Snapshot) -> None:
        try:
            self._store.write(snapshot)
        except OSError as exc:
            log_event(log, "learned_ranges_not_saved", logging.WARNING, path=str(self._store.path), reason=str(exc))

    def retry_now(self) -> None:
        for bus in self.buses.values():
            for link in bus.links:
                link.retry_now()

    async def forget_learned(self, device: str) -> dict[str, JsonValue]:
        """Forget the illegal ranges, unreadable points and read limit learned for ``device``: in the
        running poller (polled again at once) and in the state dir (also when the driver is not open)."""
        if device not in self._devices:
            raise UnknownTarget(f"{self.name}: no device {device!r}")
        poller = self.pollers.get(device)
        if poller is not None:
            return {"device": device, **poller.forget_learned()}
        saved = await asyncio.to_thread(self._store.read)
        rows = saved.pop(device, {})
        if rows:
            await asyncio.to_thread(self._store.write, saved)  # a failure is the caller's to see
        count = sum(len(spans) for spans in rows.values())
        log_event(log, "learned_state_forgotten", device=device, ranges=count, running=False)
        return {"device": device, "ranges": count, "unreadable": [], "limits_restored": False}

    # ------------------------------------------------------------------------------- introspection

    def inventory(self) -> list[DeviceInfo]:
        out: list[DeviceInfo] = []
        for device in self.config.devices:
            poller = self.pollers.get(device.name)
            profile = self.profiles.get(device.name)
            attributes: dict[str, JsonValue] = {"bus": device.bus, "unit_id": device.unit_id}
            if profile is not None:
                attributes.update(vendor=profile.vendor, model=profile.model)
            out.append(
                DeviceInfo(
                    name=device.name,
                    driver="modbus",
                    profile=profile.id if profile else device.profile,
                    state=str(poller.state) if poller else "unknown",
                    attributes=attributes,
                )
            )
        return out

    def status(self) -> dict[str, JsonValue]:
        return {
            "buses": {name: bus.status() for name, bus in self.buses.items()},
            "devices": {name: poller.status() for name, poller in self.pollers.items()},
        }

    def point_specs(self, device: str) -> list[PointSpec]:
        poller, profile = self.pollers.get(device), self.profiles.get(device)
        if poller is None or profile is None:
            return []
        return point_specs_of(profile, poller.spec.points)

    def point_rules(self) -> list[PointRule]:
        rules: list[PointRule] = []
        for name, poller in self.pollers.items():
            rules.extend(point_rules_for(self._devices[name], self.profiles[name], list(poller.spec.points)))
        return rules

    # ------------------------------------------------------------------------------ operations

    def _poller(self, device: str) -> DevicePoller:
        poller = self.pollers.get(device)
        if poller is None:
            raise UnknownTarget(f"{self.name}: no device {device!r}")
        return poller

    async def read_point(self, device: str, point: str) -> Reading:
        poller = self._poller(device)
        profile = self.profiles[device]
        profile_point = profile.points.get(point)
        if profile_point is None or not profile_point.access.readable:
            readable = sorted(n for n, p in profile.points.items() if p.access.readable)
            close = difflib.get_close_matches(point, readable, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownTarget(f"{device}: no readable point {point!r}{hint}; points: {', '.join(readable)}")
        return await poller.read_point(point, profile_point)

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> PointValue:
        """Returns the value the register got: ``value`` rounded to what the register holds."""
        poller = self.pollers.get(device)
        if poller is None:
            raise WriteRejected(device, point, "no such device")
        profile_point, request = plan_write(device, poller.spec.unit, self.profiles[device], point, value)
        verify = verify or self._devices[device].verify_writes
        await send_write(poller.bus, f"{device}.{point}", profile_point.table, request, verify)
        written = written_value(profile_point, [int(v) for v in request.values])
        log_event(log, "point_written", device=device, point=point, value=value, written=written, verified=verify)
        return written

    def set_period(self, device: str, point: str | None, period_s: float) -> float:
        poller = self._poller(device)
        if point is not None and point not in poller.spec.points:
            raise UnknownTarget(f"{device}: point {point!r} is not polled")
        if period_s <= 0:
            raise UnknownTarget(f"{device}: period must be positive, got {period_s}")
        bus = self._devices[device].bus
        names = list(poller.spec.points) if point is None else [point]
        neighbours = [(p, self._read_time(n)) for n, p in self.pollers.items() if n != device
                      and self._devices[n].bus == bus]
        queue = self.buses[bus]
        elsewhere = queue.line.load_besides(queue) if isinstance(queue, SerialBusQueue) and queue.line else 0.0
        minimum = min_period_s(poller, names, neighbours, self._read_time(device), elsewhere)
        if period_s < minimum:
            if math.isinf(minimum):
                raise PeriodRefused(f"{device}: bus {bus} is fully loaded by its other polls; no period fits", minimum)
            shown = math.ceil(minimum * 1000) / 1000  # a request for the number shown is accepted
            raise PeriodRefused(
                f"{device}: {period_s:g} s is shorter than bus {bus} can keep for "
                f"{point or 'its points'} (its reads and the other devices on the line): at least {shown:g} s",
                shown,
            )
        poller.set_period(point, period_s, time.monotonic())
        log_event(log, "period_set", device=device, point=point, period_s=period_s, min_period_s=round(minimum, 4))
        return period_s

    def _bus_load(self, bus: str) -> float:
        """The fraction of ``bus``'s time its devices' polls take."""
        return sum(load(p, p.spec.periods, self._read_time(n)) for n, p in self.pollers.items()
                   if self._devices[n].bus == bus)

    def _read_time(self, device: str) -> ReadTime:
        """Seconds a plan of ``device``'s reads keeps its bus busy: wire time on a serial line, the
        measured mean request time on TCP."""
        bus_config = self.config.bus(self._devices[device].bus)
        if isinstance(bus_config, SerialBus):
            turnaround = self.profiles[device].limits.turnaround_ms / 1000.0
            cfg = bus_config
            return lambda plan: wire_time_s(plan, cfg.baudrate, cfg.parity, cfg.stopbits, turnaround)
        stats = self.buses[bus_config.name].stats
        return lambda plan: len(plan) * (stats.busy_s / stats.requests if stats.requests else 0.0)

    def serial_ports(self) -> list[str]:
        return [bus.port for bus in self.config.buses if isinstance(bus, SerialBus)]

    def bus_names(self) -> list[str]:
        return [bus.name for bus in self.config.buses]

    def raw_verbs(self) -> Mapping[str, type[RawArgs]]:
        return VERBS

    async def raw(self, bus: str, verb: str, args: RawArgs) -> JsonValue:
        return await run_verb(self, bus, args)

    async def raw_read(self, bus: str, unit: int, table: Table, address: int, count: int) -> list[int]:
        queue = self._bus(bus)
        if unit == 0:  # the broadcast address: writes only, no device answers it
            raise RequestRefused("unit 0 is the broadcast address: writes only, no device answers a read")
        check_raw_read(unit, table, address, count)
        response = await queue.execute(ReadRequest(unit, table, address, count))
        return response.values

    async def raw_write(self, bus: str, unit: int, table: Table, address: int, values: list[int]) -> None:
        """Write registers or coils as given; unit 0 broadcasts (sent once, no reply expected)."""
        queue = self._bus(bus)
        check_raw_write(unit, table, address, values)
        if table is Table.COIL:
            await queue.execute(WriteCoils(unit, address, tuple(bool(v) for v in values)))
        else:
            await queue.execute(WriteRegisters(unit, address, tuple(values)))

    async def identify(self, bus: str, unit: int) -> list[ProfileMatch]:
        """Name the device at ``unit`` on ``bus`` through the bus's own queue (``edgepost probe``)."""
        queue = self._bus(bus)
        registry = self._registry
        if registry is None:
            registry = await asyncio.to_thread(ProfileRegistry.load_cached, site_dirs=self.context.profile_dirs)
        return await identify(queue, unit, registry)

    def _bus(self, name: str) -> BusQueue:
        queue = self.buses.get(name)
        if queue is None:
            raise UnknownTarget(f"{self.name}: no bus {name!r}")
        return queue
