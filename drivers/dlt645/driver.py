"""The DL/T 645 driver: meters on RS-485 lines read by data identifier, through the shared bus service.

``open`` resolves every meter against its profile (a bad reference or point is a ``ConfigError``
naming the field), takes each bus's port on its shared line (``drivers.serialbus``: a Modbus bus
of another driver section on the same port shares its queue) and tries to open it. ``run`` keeps
the lines open (each change a ``bus_state`` event) and polls every meter on its own grid.

Writes, authorised upstream like Modbus writes (``commands.writable`` patterns on ``device.point``):
``clock`` sets the clock of every meter on the meter's bus (a broadcast time sync; the value is
"now", an ISO time or a Unix time), ``relay`` opens or closes the load switch ("open"/"trip",
"close" = close permitted, "close_now"; only with the meter's ``relay`` password configured).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from agent.errors import ConfigError, PermanentError, ProfileError, TransportError, WriteRejected
from agent.logs import log_event
from agent.records import JsonValue, PointValue, Reading
from agent.rules import AlarmRule, PointRule
from drivers.base import (
    DeviceInfo,
    Driver,
    DriverConfigBase,
    DriverContext,
    PeriodRefused,
    PointSpec,
    RecordSink,
)
from drivers.capabilities import RawAccess, RawArgs
from drivers.device_resolution import device_problems, resolve_each
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bus import MeterBus
from drivers.dlt645.config import Dlt645DriverConfig, Meter
from drivers.dlt645.poller import MeterPoller, MeterSpec
from drivers.dlt645.profile import Dlt645Profile
from drivers.dlt645.profiles import Dlt645Profiles
from drivers.dlt645.raw_verbs import RAW_VERBS, Dlt645RawArgs, run_raw
from drivers.dlt645.requests import RelayCommand, broadcast_time, relay_control
from drivers.dlt645.timing import load, read_time_s
from drivers.modbus.scheduler import stagger_offset
from drivers.serialbus.bus_state import report_bus_change
from drivers.serialbus.link import LinkChange

log = logging.getLogger(__name__)

CLOCK, RELAY = "clock", "relay"
RELAY_VALUES = {"open": RelayCommand.TRIP, "trip": RelayCommand.TRIP,
                "close": RelayCommand.CLOSE_PERMITTED, "close_now": RelayCommand.CLOSE}
RELAY_VALID_S = 600  # a relay command the meter has not acted on within this is void


class UnknownTarget(PermanentError):
    """A read or write names a device or point this driver does not have."""


def _resolve(meter: Meter, profiles: Dlt645Profiles, default_period_s: float) -> tuple[Dlt645Profile, MeterSpec]:
    try:
        profile = profiles.get(meter.profile)
    except ProfileError as exc:
        raise ConfigError([f"profile: {p}" for p in exc.problems] or [f"profile: {exc}"]) from None
    selection = meter.selected_points()
    names = list(selection) if selection is not None else [n for n, p in profile.points.items() if p.access.readable]
    problems = [f"points.{n}: no readable point {n!r} in {profile.id}" for n in names
                if n not in profile.points or not profile.points[n].access.readable]
    if problems:
        raise ConfigError(problems)
    periods: dict[str, float] = {}
    for name in names:
        override = selection.get(name) if selection else None
        # as for Modbus devices: the meter's period_s is a default for points without their own
        periods[name] = (override.period if override else None) or profile.points[name].period \
            or meter.period_s or default_period_s
    spec = MeterSpec(meter.name, MeterAddress.parse(meter.address), {n: profile.points[n] for n in names}, periods,
                     profile.timing.timeout_ms / 1000.0)
    return profile, spec


class Dlt645Driver(Driver[Dlt645DriverConfig], RawAccess):
    config_model = Dlt645DriverConfig

    def __init__(
        self, config: Dlt645DriverConfig, context: DriverContext, profiles: Dlt645Profiles | None = None
    ) -> None:
        super().__init__(config, context)
        self._profiles = profiles
        self.buses: dict[str, MeterBus] = {}
        self.pollers: dict[str, MeterPoller] = {}
        self.profiles: dict[str, Dlt645Profile] = {}
        self._meters = {m.name: m for m in config.devices}

    @classmethod
    def check_config(
        cls, config: DriverConfigBase, profile_dirs: Sequence[Path] | None = None
    ) -> list[tuple[tuple[str | int, ...], str]]:
        assert isinstance(config, Dlt645DriverConfig)
        profiles = Dlt645Profiles.load()
        return device_problems(config.devices, lambda meter: _resolve(meter, profiles, config.default_period_s))

    # ------------------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        profiles = self._profiles if self._profiles is not None else await asyncio.to_thread(Dlt645Profiles.load)
        resolved = resolve_each(
            self.name, self.config.devices, lambda meter: _resolve(meter, profiles, self.config.default_period_s)
        )
        self._profiles = profiles
        try:
            for bus_config in self.config.buses:
                self.buses[bus_config.name] = MeterBus(bus_config)
        except ConfigError:
            await self.close()  # a port already in use at another framing: give back what was taken
            raise
        for name, (profile, spec) in resolved.items():
            meter = self._meters[name]
            timeout = self.config.bus(meter.bus).timeout_s
            if timeout is not None:
                spec = MeterSpec(spec.name, spec.address, spec.points, spec.periods, timeout)
            self.profiles[name] = profile
            self.pollers[name] = MeterPoller(spec, self.buses[meter.bus], self.config.offline_after,
                                             self.config.backoff_max_s)
        for bus in self.buses.values():
            if bus.line is not None:  # what the meters poll, for the line's other buses' period checks
                bus.line.report_load(bus, functools.partial(self._bus_load, bus.name))
            with contextlib.suppress(TransportError):  # logged by the line's keeper, reopened by run()
                await bus.open()

    async def run(self, sink: RecordSink) -> None:
        async def on_change(change: LinkChange) -> None:
            await self._bus_changed(change, sink)

        count = len(self.pollers)
        async with asyncio.TaskGroup() as group:
            for bus in self.buses.values():
                group.create_task(bus.keep_open(on_change), name=f"dlt645[{self.name}].bus.{bus.name}")
            for index, poller in enumerate(self.pollers.values()):
                period = min(poller.spec.periods.values(), default=self.config.default_period_s)
                group.create_task(poller.run(sink, stagger_offset(index, count, period)),
                                  name=f"dlt645[{self.name}].{poller.name}")

    async def close(self) -> None:
        for bus in self.buses.values():
            bus.close()

    def retry_now(self) -> None:
        for bus in self.buses.values():
            bus.retry_now()

    async def _bus_changed(self, change: LinkChange, sink: RecordSink) -> None:
        await report_bus_change(change, sink, self.buses.get(change.bus), self.pollers.values())

    # ------------------------------------------------------------------------------ bus time

    def read_time_s(self, device: str, point: str) -> float:
        """Seconds one read of ``point`` keeps its line busy (``timing.py``)."""
        bus = self.config.bus(self._meters[device].bus)
        turnaround = self.profiles[device].timing.turnaround_ms / 1000.0
        spec = self.pollers[device].spec.points[point]
        return read_time_s(spec, bus.baudrate, bus.bits_per_char, turnaround, bus.gap_ms / 1000.0)

    def _load(self, device: str, names: Sequence[str] | None = None) -> float:
        poller = self.pollers[device]
        read_s = {n: self.read_time_s(device, n) for n in poller.spec.points}
        return load(read_s, poller.spec.periods, names)

    def _bus_load(self, bus: str) -> float:
        return sum(self._load(name) for name, m in self._meters.items() if m.bus == bus and name in self.pollers)

    def set_period(self, device: str, point: str | None, period_s: float) -> float:
        poller = self._poller(device)
        if point is not None and point not in poller.spec.points:
            raise UnknownTarget(f"{device}: point {point!r} is not polled")
        if period_s <= 0:
            raise UnknownTarget(f"{device}: period must be positive, got {period_s}")
        names = list(poller.spec.points) if point is None else [point]
        bus = self.buses[self._meters[device].bus]
        others = self._bus_load(bus.name) - self._load(device, names)
        if bus.line is not None:
            others += bus.line.load_besides(bus)  # Modbus devices (or other meters' buses) on the same port
        minimum = math.inf if others >= 1.0 else sum(self.read_time_s(device, n) for n in names) / (1.0 - others)
        if period_s < minimum:
            if math.isinf(minimum):
                raise PeriodRefused(f"{device}: the line of bus {bus.name} is fully loaded by its other polls", minimum)
            shown = math.ceil(minimum * 1000) / 1000
            raise PeriodRefused(f"{device}: {period_s:g} s is shorter than the line of bus {bus.name} can keep for "
                                f"{point or 'its points'}: at least {shown:g} s", shown)
        poller.set_period(point, period_s)
        log_event(log, "period_set", device=device, point=point, period_s=period_s, min_period_s=round(minimum, 4))
        return period_s

    # ------------------------------------------------------------------------------ introspection

    def inventory(self) -> list[DeviceInfo]:
        out: list[DeviceInfo] = []
        for meter in self.config.devices:
            poller, profile = self.pollers.get(meter.name), self.profiles.get(meter.name)
            attributes: dict[str, JsonValue] = {"bus": meter.bus, "address": meter.address}
            if profile is not None:
                attributes.update(vendor=profile.vendor, model=profile.model, edition=str(profile.edition))
            out.append(DeviceInfo(meter.name, "dlt645", profile.id if profile else meter.profile,
                                  str(poller.state) if poller else "unknown", attributes))
        return out

    def status(self) -> dict[str, JsonValue]:
        return {
            "buses": {name: bus.status() for name, bus in self.buses.items()},
            "devices": {name: poller.status() for name, poller in self.pollers.items()},
        }

    def point_specs(self, device: str) -> list[PointSpec]:
        poller = self.pollers.get(device)
        if poller is None:
            return []
        specs = []
        for name, point in poller.spec.points.items():
            fmt = point.data_format
            kind = "string" if fmt.kind == "digits" else "float64" if fmt.decimals or point.scale != 1 else "int64"
            specs.append(PointSpec(name, kind, point.unit, description=point.description))
        specs.append(PointSpec(CLOCK, "string", writable=True, description="broadcast time sync of the bus"))
        if self._meters[device].relay is not None:
            specs.append(PointSpec(RELAY, "string", writable=True, description="open | close | close_now"))
        return specs

    def point_rules(self) -> list[PointRule]:
        rules: list[PointRule] = []
        for name, poller in self.pollers.items():
            profile, selection = self.profiles[name], self._meters[name].selected_points() or {}
            for point_name, point in poller.spec.points.items():
                override = selection.get(point_name)
                deadband = override.deadband if override and override.deadband is not None else point.deadband
                alarms = tuple(
                    AlarmRule(alarm_name, a.above, a.below, a.hysteresis, a.absolute, str(a.priority), a.message)
                    for alarm_name, a in profile.alarms.items() if a.point == point_name
                )
                rules.append(PointRule(device=name, point=point_name, deadband=deadband, alarms=alarms))
        return rules

    # ------------------------------------------------------------------------------ raw access

    def serial_ports(self) -> list[str]:
        """Local ports ``open`` takes (the CLI refuses a second master on them)."""
        return [bus.port for bus in self.config.buses if "://" not in bus.port]

    def bus_names(self) -> list[str]:
        return [bus.name for bus in self.config.buses]

    def raw_verbs(self) -> Mapping[str, type[Dlt645RawArgs]]:
        return RAW_VERBS

    async def raw(self, bus: str, verb: str, args: RawArgs) -> JsonValue:
        """``read_address`` (probe/scan by broadcast) or ``read`` one item, through the bus's queue."""
        queue = self.buses.get(bus)
        if queue is None:
            raise UnknownTarget(f"{self.name}: no bus {bus!r}")
        if verb not in RAW_VERBS or not isinstance(args, Dlt645RawArgs):
            raise UnknownTarget(f"{self.name}: no raw verb {verb!r} (verbs: {', '.join(RAW_VERBS)})")
        return await run_raw(queue, verb, args)

    # ------------------------------------------------------------------------------ operations

    def _poller(self, device: str) -> MeterPoller:
        poller = self.pollers.get(device)
        if poller is None:
            raise UnknownTarget(f"{self.name}: no device {device!r}")
        return poller

    async def read_point(self, device: str, point: str) -> Reading:
        poller = self._poller(device)
        spec = self.profiles[device].points.get(point)
        if spec is None or not spec.access.readable:
            raise UnknownTarget(f"{device}: no readable point {point!r}")
        return await poller.read_point(point, spec)

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> None:
        poller = self.pollers.get(device)
        if poller is None:
            raise WriteRejected(device, point, "no such device")
        if point == CLOCK:
            when = _clock_value(device, value)
            await poller.bus.broadcast(broadcast_time(when))
            log_event(log, "clock_set", device=device, bus=poller.bus.name, to=when.isoformat(timespec="seconds"))
            return
        if point != RELAY:
            raise WriteRejected(device, point, f"not writable (writable: {CLOCK}, {RELAY})")
        access = self._meters[device].relay
        if access is None:
            raise WriteRejected(device, point, "relay control needs the meter's password (devices[].relay)")
        command = RELAY_VALUES.get(str(value).lower())
        if command is None:
            raise WriteRejected(device, point, f"expected one of {', '.join(RELAY_VALUES)}, got {value!r}")
        until = datetime.now() + timedelta(seconds=RELAY_VALID_S)
        tx = relay_control(poller.spec.address, command, until, access.wire_password(), access.operator,
                           poller.spec.timeout_s, device)
        await poller.bus.write(tx)
        log_event(log, "point_written", device=device, point=point, value=str(value))


def _clock_value(device: str, value: PointValue) -> datetime:
    """The meters' local time to set: "now", an ISO time (with a zone: converted) or a Unix time."""
    if value == "now":
        return datetime.now()
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone().replace(tzinfo=None) if parsed.tzinfo else parsed
    except (ValueError, OverflowError, OSError):
        pass
    raise WriteRejected(device, CLOCK, f"expected 'now', an ISO time or a Unix time, got {value!r}")
