"""Build servers from a ``SimulatorSpec`` and run them: ``await serve(spec)`` until cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.errors import ConfigError, ProfileError
from agent.yamlsource import YamlDocument, format_path
from drivers.modbus.profiles import ProfileRegistry, profile_search_path
from drivers.modbus.simulator.device import SimulatedDevice
from drivers.modbus.simulator.runner import SimulatorServer
from drivers.modbus.simulator.serial_bus import SimulatedBus
from drivers.modbus.simulator.serial_path import SerialPath
from drivers.modbus.simulator.spec import BusSpec, DeviceSpec, MeterSpec, SimulatorSpec
from drivers.modbus.simulator.tcp_server import SimulatedTcpServer
from drivers.modbus.simulator.wire import WireTiming

if TYPE_CHECKING:
    from drivers.dlt645.profiles import Dlt645Profiles
    from drivers.dlt645.simulator.meter import SimulatedMeter

SimServer = SimulatedBus | SimulatedTcpServer


def build_servers(
    spec: SimulatorSpec, doc: YamlDocument | None = None, registry: ProfileRegistry | None = None
) -> list[SimServer]:
    """One server per bus. Unknown profiles or point names raise ``ConfigError`` naming the spot."""
    if registry is None:
        extra = [spec.profiles_dir] if spec.profiles_dir is not None else []
        registry = ProfileRegistry.load([*extra, *profile_search_path()])
    servers: list[SimServer] = []
    problems: list[str] = []
    meter_profiles: Dlt645Profiles | None = None
    for b, bus in enumerate(spec.buses):
        devices: list[SimulatedDevice] = []
        meters: list[SimulatedMeter] = []
        for d, device in enumerate(bus.devices):
            try:
                devices.append(_device(device, registry))
            except (ProfileError, ValueError) as exc:
                path = ("buses", b, "devices", d)
                where = f"{doc.where(path)} " if doc is not None else ""
                problems.append(f"{where}{format_path(path)}: {exc}")
        for m, meter in enumerate(bus.meters):
            if meter_profiles is None:
                # imported here: drivers.dlt645 builds on this package
                from drivers.dlt645.profiles import Dlt645Profiles

                meter_profiles = Dlt645Profiles.load()
            try:
                meters.append(_meter(meter, meter_profiles))
            except (ProfileError, ValueError) as exc:
                path = ("buses", b, "meters", m)
                where = f"{doc.where(path)} " if doc is not None else ""
                problems.append(f"{where}{format_path(path)}: {exc}")
        if not problems:
            servers.append(_server(bus, devices, meters))
    if problems:
        raise ConfigError(problems)
    return servers


def _device(spec: DeviceSpec, registry: ProfileRegistry) -> SimulatedDevice:
    profile = registry.get(spec.profile, spec.firmware)
    return SimulatedDevice(
        spec.unit,
        profile,
        dict(spec.points),
        holes=spec.holes,
        turnaround_ms=spec.turnaround_ms,
        faults=list(spec.faults),
        firmware=spec.firmware,
        seed=spec.seed,
    )


def _meter(spec: MeterSpec, profiles: Dlt645Profiles) -> SimulatedMeter:
    from drivers.dlt645.simulator.meter import SimulatedMeter

    return SimulatedMeter(
        spec.meter, profiles.get(spec.profile), dict(spec.points),
        turnaround_ms=spec.turnaround_ms, faults=list(spec.faults), seed=spec.seed,
    )


def _server(bus: BusSpec, devices: list[SimulatedDevice], meters: list[SimulatedMeter]) -> SimServer:
    if bus.serial is not None:
        s = bus.serial
        return SimulatedBus(
            s.port, s.baud, devices, parity=s.parity, stopbits=s.stopbits, bytesize=s.bytesize,
            wire_timing=s.wire_timing,
            path=SerialPath(s.adapter_latency_ms, s.turnaround_jitter_ms, s.path_seed),
            meters=meters,
        )
    assert bus.tcp is not None
    t = bus.tcp
    timing = WireTiming(baud=t.baud) if t.wire_timing else None
    return SimulatedTcpServer(t.host, t.port, devices, framing=t.framing, wire_timing=timing)


async def serve_servers(
    servers: list[SimServer], on_ready: Callable[[list[SimServer]], None] | None = None
) -> None:
    """Start ``servers``, call ``on_ready``, serve until cancelled, then stop them all."""
    started: list[SimulatorServer] = []
    try:
        for server in servers:
            await server.start()
            started.append(server)
        if on_ready is not None:
            on_ready(servers)
        await asyncio.Event().wait()
    finally:
        for running in reversed(started):
            await running.stop()


async def serve(
    spec: SimulatorSpec,
    doc: YamlDocument | None = None,
    registry: ProfileRegistry | None = None,
    on_ready: Callable[[list[SimServer]], None] | None = None,
) -> None:
    """Serve everything ``spec`` describes until cancelled."""
    await serve_servers(build_servers(spec, doc, registry), on_ready)
