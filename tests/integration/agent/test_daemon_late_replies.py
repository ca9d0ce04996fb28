"""Issue 8, item 1 end to end: ``edgepost simulate`` with a slow meter, ``edgepost run``, mosquitto.

The meter at unit 9 answers 1.3 s after each request, the agent waits 1.0 s with one retry; the
meter at unit 3 on the same line is healthy. Every point holds its own constant, so a late reply
taken for the answer to another read shows upstream as a good reading with another point's value.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.fixtures.mosquitto import Mosquitto, free_port
from tests.fixtures.serial import socat_pty_pair
from tests.integration.agent.conftest import records_of, wait_until

# long: minutes of a 1.3 s device (make test-long); make test proves the same through the rig's slow-device scenario
pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow, pytest.mark.long]

SLOW = {"voltage": 101.0, "current": 202.0, "active_power": 303.0, "frequency": 404.0}
HEALTHY = {name: value + 1000.0 for name, value in SLOW.items()}


def _points(values: dict[str, float]) -> str:
    return "{" + ", ".join(f"{name}: {value}" for name, value in values.items()) + "}"


SIM = (
    "buses:\n"
    '  - serial: {port: "PORT", baud: 19200}\n'
    "    devices:\n"
    f'      - {{unit: 9, profile: eastron/sdm120, faults: ["slow:1300"], points: {_points(SLOW)}}}\n'
    f"      - {{unit: 3, profile: eastron/sdm120, points: {_points(HEALTHY)}}}\n"
)

CONFIG = """
gateway: {{id: it-pole, site: test}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    offline_after: 3
    backoff_max_s: 3
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 19200, timeout_s: 1.0, retries: 1}}
    devices:
      - {{name: slow, bus: bus1, unit_id: 9, profile: eastron/sdm120, period_s: 1.0, points: [{points}]}}
      - {{name: healthy, bus: bus1, unit_id: 3, profile: eastron/sdm120, period_s: 1.0, points: [{points}]}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
metrics: {{prometheus_port: {metrics_port}}}
"""


def edgepost() -> list[str]:
    script = Path(sys.executable).parent / "edgepost"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli.main"]


@pytest.fixture
def simulated_line(tmp_path: Path) -> Iterator[str]:
    """``edgepost simulate`` on one end of a pty pair; yields the other end."""
    with socat_pty_pair() as (sim_port, agent_port):
        spec = tmp_path / "sim.yaml"
        spec.write_text(SIM.replace("PORT", sim_port))
        proc = subprocess.Popen(
            [*edgepost(), "simulate", "--spec", str(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(2)]
            assert lines[-1].strip() == "ready", lines
            yield agent_port
        finally:
            proc.kill()
            proc.communicate(timeout=10)


def status(config: Path) -> dict[str, object]:
    out = subprocess.run(
        [*edgepost(), "--json", "--config", str(config), "status"], capture_output=True, timeout=30, check=True
    ).stdout
    data: dict[str, object] = orjson.loads(out)["status"]
    return data


def devices_of(config: Path) -> dict[str, dict[str, object]]:
    drivers: dict[str, dict[str, dict[str, dict[str, object]]]] = status(config)["drivers"]  # type: ignore[assignment]
    return drivers["rs485"]["devices"]


def metric(body: str, series: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(series + " ")]
    assert len(values) == 1, f"{series} not exposed once in:\n{body}"
    return values[0]


@pytest.mark.timeout(300)
def test_slow_meter_upstream_never_carries_another_points_value(simulated_line: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "config.yaml"
    metrics_port = free_port()
    log_path = tmp_path / "agent.log"
    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/#") as sub:
        config.write_text(
            CONFIG.format(
                state=state, port=simulated_line, mqtt_port=broker.port, metrics_port=metrics_port,
                points=", ".join(SLOW),
            )
        )
        with log_path.open("ab") as log:
            agent = subprocess.Popen([*edgepost(), "--config", str(config), "run"], stdout=log, stderr=log)
        try:
            wait_until(lambda: (state / "control.sock").exists(), 60, "control socket")
            # both meters asked many times (poller requests, counted the same before and after the fix)
            wait_until(
                lambda: int(devices_of(config)["slow"]["requests"]) >= 8  # type: ignore[call-overload]
                and int(devices_of(config)["healthy"]["requests"]) >= 24,  # type: ignore[call-overload]
                timeout=200,
                what="requests to both meters",
            )
            devices = devices_of(config)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
        finally:
            agent.terminate()
            agent.wait(30)
        records = records_of(sub)
    readings = [r for r in records if "pt" in r]
    expected = {"slow": SLOW, "healthy": HEALTHY}
    wrong = [r for r in readings if r["q"] == "good" and r["v"] != expected[str(r["dev"])][str(r["pt"])]]
    assert not wrong, f"good readings carrying another point's or device's value: {wrong}"
    assert not [r for r in readings if r["dev"] == "slow" and r["q"] == "good"], "late replies became readings"
    log_text = log_path.read_text(errors="replace")
    assert "point_unreadable device=slow" not in log_text
    assert "illegal_range_learned device=slow" not in log_text
    states = {dev: [r["data"]["state"] for r in records if r.get("ev") == "device_state" and r["dev"] == dev]  # type: ignore[index]
              for dev in ("slow", "healthy")}
    assert states == {"slow": ["offline"], "healthy": ["online"]}
    slow_line: dict[str, int] = devices["slow"]["line"]  # type: ignore[assignment]
    healthy_line: dict[str, int] = devices["healthy"]["line"]  # type: ignore[assignment]
    assert slow_line["timeouts"] >= 3 and slow_line["mismatched"] >= 1
    assert healthy_line["timeouts"] == healthy_line["mismatched"] == healthy_line["crc_errors"] == 0
    assert metric(metrics, 'edgepost_drivers_devices_line_timeouts_total{device="slow",driver="rs485"}') >= 3
    assert metric(metrics, 'edgepost_drivers_devices_line_mismatched_total{device="healthy",driver="rs485"}') == 0
