"""Stand up a whole pole from a ``PoleSpec``: ``async with stand_up(spec, workdir) as pole``.

Order: state dir, broker, collector, link proxy, simulators (ptys or TCP), cameras, then the agent
(config written, console script started, control socket answering). Everything is torn down in
reverse order, whatever happened in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator.serial_bus import SimulatedBus
from drivers.modbus.simulator.serve import SimServer
from drivers.modbus.simulator.tcp_server import SimulatedTcpServer
from drivers.modbus.simulator.wire import WireTiming
from rig.errors import ToolMissing
from rig.observe.truth import Truth
from rig.pole.agent_config import Endpoints, build_config, to_yaml
from rig.pole.agent_process import AgentProcess
from rig.pole.broker import Mosquitto
from rig.pole.collector import Collector
from rig.pole.proxy import LinkProxy
from rig.pole.pty import PtyLink
from rig.pole.recording import RecordingDevice
from rig.pole.rtsp import RtspServer, file_launch, pattern_launch, rtsp_available
from rig.pole.simhost import SimHost
from rig.pole.storage import StateDir
from rig.scenario.pole import BusSpec, CameraSpec, DeviceSpec, PoleSpec


@dataclass
class Pole:
    spec: PoleSpec
    workdir: Path
    truth: Truth
    state: StateDir
    collector: Collector
    sims: SimHost
    agent: AgentProcess
    config_path: Path
    config: dict[str, Any]
    registry: ProfileRegistry
    broker: Mosquitto | None = None
    proxy: LinkProxy | None = None
    links: dict[str, PtyLink] = field(default_factory=dict)  # simulated serial bus -> its pty pair
    servers: dict[str, SimServer] = field(default_factory=dict)  # simulated bus -> its server
    devices: dict[str, RecordingDevice] = field(default_factory=dict)  # device name -> simulated device
    cameras: dict[str, RtspServer] = field(default_factory=dict)
    clock_file: Path | None = None

    @property
    def topic_root(self) -> str:
        prefix = str(self.config.get("uplink", {}).get("topic_prefix", "edgepost"))
        return f"{prefix}/{self.spec.gateway}"

    def write_config(self, text: str | None = None) -> None:
        self.config_path.write_text(text if text is not None else to_yaml(self.config))

    def make_device(self, name: str, unit: int, profile: str, firmware: str | None,
                    device: DeviceSpec | None = None) -> RecordingDevice:
        resolved = self.registry.get(profile, firmware)
        generators = {k: v for k, v in (device.points if device else {}).items() if k in resolved.points}
        return RecordingDevice(
            name, self.truth, unit, resolved, generators, firmware=firmware, seed=device.seed if device else None
        )


def faketime_library() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    return found[0] if found else None


@asynccontextmanager
async def stand_up(spec: PoleSpec, workdir: Path, *, fake_clock: bool = False) -> AsyncIterator[Pole]:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    prefix = str(spec.agent.config.get("uplink", {}).get("topic_prefix", "edgepost"))
    topic = f"{prefix}/{spec.gateway}/#"
    async with AsyncExitStack() as stack:
        state = await stack.enter_async_context(
            StateDir(workdir / "state", spec.storage.state_dir == "tmpfs", spec.storage.size_mb)
        )
        broker: Mosquitto | None = None
        proxy: LinkProxy | None = None
        tls: dict[str, str] | None = None
        if spec.broker.external is None:
            broker = await stack.enter_async_context(_broker(workdir, spec))
            target = broker.tls_port if broker.tls_port is not None else broker.port
            proxy = await stack.enter_async_context(LinkProxy(target))
            if broker.certs is not None:
                tls = {"ca_file": str(broker.certs.ca), "cert_file": str(broker.certs.client_cert),
                       "key_file": str(broker.certs.client_key)}
            collector = await stack.enter_async_context(_collector(broker.port, topic))
        else:
            ext = spec.broker.external
            collector = await stack.enter_async_context(_collector(ext.port, topic, ext.host))
        sims = await stack.enter_async_context(SimHost())
        registry = ProfileRegistry.load_cached()
        truth = Truth()
        run_dir = workdir / "run"
        run_dir.mkdir(exist_ok=True)
        pole = Pole(
            spec=spec, workdir=workdir, truth=truth, state=state, collector=collector, sims=sims,
            agent=AgentProcess(
                workdir / "config.yaml", workdir / "agent.log", run_dir / "control.sock",
                start_timeout_s=spec.agent.start_timeout_s, stop_timeout_s=spec.agent.stop_timeout_s,
            ),
            config_path=workdir / "config.yaml", config={}, registry=registry, broker=broker, proxy=proxy,
        )
        bus_ports = {}
        for bus in spec.buses:
            bus_ports[bus.name] = bus.port if bus.port is not None else await _simulate(pole, bus, stack)
        camera_urls = {}
        for camera in spec.cameras:
            camera_urls[camera.name] = await _camera(pole, camera, stack)
        pole.config = build_config(spec, Endpoints(
            broker_port=proxy.port if proxy is not None else 0, state_dir=state.path,
            control_socket=pole.agent.control_socket, bus_ports=bus_ports, camera_urls=camera_urls, tls=tls,
        ))
        pole.write_config()
        env = dict(spec.agent.env)
        library = faketime_library() if fake_clock else None
        if library is not None:  # without faketime the clock faults report themselves skipped
            pole.clock_file = workdir / "faketime.rc"
            pole.clock_file.write_text("+0\n")
            env.update(LD_PRELOAD=library, FAKETIME_TIMESTAMP_FILE=str(pole.clock_file),
                       FAKETIME_CACHE_DURATION="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
        pole.agent.env = env
        await stack.enter_async_context(pole.agent)
        yield pole


@asynccontextmanager
async def _broker(workdir: Path, spec: PoleSpec) -> AsyncIterator[Mosquitto]:
    broker = await asyncio.to_thread(Mosquitto, workdir, spec.broker.tls, spec.broker.persistence)
    await asyncio.to_thread(broker.start)
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)


@asynccontextmanager
async def _collector(port: int, topic: str, host: str = "127.0.0.1") -> AsyncIterator[Collector]:
    collector = await asyncio.to_thread(Collector, port, topic, True, host)
    try:
        yield collector
    finally:
        await asyncio.to_thread(collector.close)


@contextlib.contextmanager
def _plugged(link: PtyLink) -> Iterator[PtyLink]:
    link.plug()
    try:
        yield link
    finally:
        link.unplug()


async def _simulate(pole: Pole, bus: BusSpec, stack: AsyncExitStack) -> str:
    """Serve the bus's devices; returns where the agent connects (pty path or host:port)."""
    devices = []
    for device in bus.devices:
        made = pole.make_device(device.name, device.unit, device.profile, device.firmware, device)
        pole.devices[device.name] = made
        devices.append(made)
    server: SimServer
    if bus.kind == "serial":
        link = stack.enter_context(_plugged(PtyLink(pole.workdir / "ptys", bus.name)))
        pole.links[bus.name] = link
        server = SimulatedBus(str(link.sim_end), bus.baud, devices, wire_timing=bus.wire_timing)
        endpoint = str(link.agent_end)
    else:
        framing: Literal["socket", "rtu"] = "socket" if bus.kind == "tcp" else "rtu"
        timing = WireTiming(baud=bus.baud) if framing == "rtu" and bus.wire_timing else None
        server = SimulatedTcpServer("127.0.0.1", 0, devices, framing=framing, wire_timing=timing)
    await pole.sims.start(server)
    stack.push_async_callback(pole.sims.stop, server)
    pole.servers[bus.name] = server
    if isinstance(server, SimulatedTcpServer):
        endpoint = f"127.0.0.1:{server.port}"
    return endpoint


async def _camera(pole: Pole, camera: CameraSpec, stack: AsyncExitStack) -> str:
    if camera.source == "url":
        assert camera.url is not None
        return camera.url
    if not rtsp_available():
        raise ToolMissing("gst-rtsp-server (python3-gi, gir1.2-gst-rtsp-server-1.0) is not installed")
    if camera.source == "file":
        assert camera.file is not None
        launch = file_launch(camera.file)
    else:
        launch = pattern_launch(fps=camera.fps, pattern=camera.pattern)
    server = RtspServer(launch, mount=f"/{camera.name}")
    await asyncio.to_thread(server.start)
    stack.push_async_callback(asyncio.to_thread, server.stop)
    pole.cameras[camera.name] = server
    return server.url
