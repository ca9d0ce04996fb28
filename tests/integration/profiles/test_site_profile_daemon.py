"""A site's own meter through the real daemon: socat pty + simulator, `edgepost run`, real mosquitto.

The meter's profile lives in a site directory (the config's ``profile_dirs``, or
``$EDGEPOST_PROFILE_DIR``). Upstream, a float32 231.4 V and a x0.1 register holding 2314 must arrive
as ``231.4`` in the JSON, and the meter's serial number (profile period 3600 s) must be read once,
not at the device's ``period_s`` of 0.5 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SequenceSpec, SimulatedBus, SimulatedDevice, run_in_thread
from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.fixtures.serial import socat_pty_pair

pytestmark = pytest.mark.hardware

EDGEPOST = Path(sys.executable).parent / "edgepost"

METER = """\
vendor: Acme
model: PM-100
source: integration test
points:
  voltage: {table: input, address: 0, type: float32, word_order: little, unit: V}
  line_voltage: {table: input, address: 2, type: uint16, scale: 0.1, unit: V}
  serial_number: {table: holding, address: 100, type: uint32, period: 3600}
"""

CONFIG = """\
gateway: {{id: site-pole}}
state_dir: {state}
{profile_dirs}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 38400, timeout_s: 0.5}}
    devices:
      - {{name: meter, bus: bus1, unit_id: 1, profile: acme/pm-100, period_s: 0.5}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""


def telemetry(collector: Collector) -> tuple[list[dict[str, object]], list[bytes]]:
    records: list[dict[str, object]] = []
    payloads: list[bytes] = []
    for message in collector.snapshot("/telemetry"):
        payload = message.payload if message.payload[:1] == b"{" else zlib.decompress(message.payload)
        payloads.append(payload)
        records.extend(orjson.loads(payload)["records"])
    return records, payloads


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "pm-100.yaml").write_text(METER)
    return root


@pytest.fixture
def meter_line(site: Path) -> Iterator[tuple[str, SimulatedDevice]]:
    profile = ProfileRegistry.load(site, strict=True).get("acme/pm-100")
    device = SimulatedDevice(
        1,
        profile,
        {
            # every poll reads a new value, so every poll is published (no deadband hides one)
            "voltage": SequenceSpec(values=[231.4, 231.5]),
            "line_voltage": SequenceSpec(values=[231.4, 231.5]),
            "serial_number": SequenceSpec(values=list(range(70_001, 70_100))),
        },
    )
    with socat_pty_pair() as (sim_port, agent_port), run_in_thread(SimulatedBus(sim_port, 38400, [device])):
        yield agent_port, device


@pytest.mark.parametrize("given_by", ["config", "environment"])
def test_site_meter_values_and_periods_upstream(
    tmp_path: Path, site: Path, meter_line: tuple[str, SimulatedDevice], given_by: str
) -> None:
    port, _ = meter_line
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("EDGEPOST_PROFILE_DIR", "EDGEPOST_CONFIG")}
    profile_dirs = ""
    if given_by == "config":
        profile_dirs = f"profile_dirs: [{site}]"
    else:
        env["EDGEPOST_PROFILE_DIR"] = str(site)
    with Mosquitto(tmp_path / "broker") as broker, broker.collector("edgepost/#") as sub:
        config = tmp_path / "config.yaml"
        config.write_text(CONFIG.format(state=state, port=port, mqtt_port=broker.port, profile_dirs=profile_dirs))
        log = (tmp_path / "agent.log").open("wb")
        agent = subprocess.Popen([str(EDGEPOST), "--config", str(config), "run"], stdout=log, stderr=log, env=env)
        try:

            def polls(point: str) -> list[dict[str, object]]:
                return [r for r in telemetry(sub)[0] if r.get("dev") == "meter" and r.get("pt") == point]

            def enough() -> bool:
                if agent.poll() is not None:
                    raise AssertionError((tmp_path / "agent.log").read_text(errors="replace")[-3000:])
                return len(polls("voltage")) >= 8 and len(polls("line_voltage")) >= 8

            wait_until(enough, "8 polls of the meter upstream")
            records, payloads = telemetry(sub)
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(10)
            log.close()
    problems = []  # all of them at once: each is its own fault
    voltages = {r["v"] for r in records if r.get("pt") == "voltage"}
    if voltages != {231.4, 231.5}:  # the float32 as the meter meant it
        problems.append(f"float32 voltage published as {sorted(voltages)}")  # type: ignore[type-var]
    scaled = {r["v"] for r in records if r.get("pt") == "line_voltage"}
    if scaled != {231.4, 231.5}:  # 2314 x 0.1
        problems.append(f"x0.1 line_voltage published as {sorted(scaled)}")  # type: ignore[type-var]
    text = b"".join(payloads)
    if b"231.39999" in text or b"231.40000" in text or b'"v":231.4,' not in text:
        problems.append("the JSON upstream does not say 231.4")
    # the serial number's own period (3600 s) beats the device's period_s of 0.5 s: read once
    serials = [r["v"] for r in records if r.get("pt") == "serial_number"]
    if len(serials) != 1:
        problems.append(f"serial_number (period 3600) read {len(serials)} times in 8 polls of the device")
    assert problems == []
