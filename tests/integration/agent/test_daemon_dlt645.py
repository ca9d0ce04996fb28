"""Issue 13 end to end: ``edgepost simulate`` serving DL/T 645 meters (and a Modbus meter on the same
pty), ``edgepost run`` with a ``driver: dlt645`` section (and a ``driver: modbus`` one on the same
port), a real mosquitto. Every value that reaches the broker is the simulator's; the mixed line has
one master (one queue, one transaction at a time) and no collision or framing error.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.serial import socat_pty_pair
from tests.integration.agent.conftest import records_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

THREE_PHASE = {"voltage_a": 231.4, "voltage_b": 229.8, "current_a": -2.345, "active_power": 1.2345,
               "frequency": 49.98, "import_energy": 123456.78}
SINGLE_PHASE = {"voltage": 228.1, "current": 1.5, "import_energy": 42.5}
MODBUS = {"voltage": 230.5, "frequency": 50.25}


def _points(values: dict[str, float]) -> str:
    return "{" + ", ".join(f"{name}: {value}" for name, value in values.items()) + "}"


def _periods(values: dict[str, float]) -> str:
    return "{" + ", ".join(f"{name}: {{period: 0.5}}" for name in values) + "}"


SIM = (
    "buses:\n"
    '  - serial: {port: "PORT", baud: 9600, parity: E}\n'
    "    devices:\n"
    f"      - {{unit: 1, profile: eastron/sdm120, holes: allow, points: {_points(MODBUS)}}}\n"
    "    meters:\n"
    f'      - {{meter: "000012345678", profile: chint/dtsu666-dlt645, points: {_points(THREE_PHASE)}}}\n'
    f'      - {{meter: "000000000002", profile: chint/ddsu666-dlt645, points: {_points(SINGLE_PHASE)}}}\n'
)

DLT645 = """
  - driver: dlt645
    name: meters
    buses:
      # a pty takes no parity: the agent opens it 8N1, the simulator models the 8E1 wire
      - {{name: cabinet, port: "{port}", baudrate: 9600, parity: N, timeout_s: 1.0}}
    devices:
      - {{name: incomer, bus: cabinet, address: "000012345678", profile: chint/dtsu666-dlt645, points: {three}}}
      - {{name: pole, bus: cabinet, address: "000000000002", profile: chint/ddsu666-dlt645, points: {single}}}
"""

MODBUS_SECTION = """
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 9600, timeout_s: 1.0}}
    devices:
      - {{name: sdm, bus: bus1, unit_id: 1, profile: eastron/sdm120, points: {modbus}}}
"""

CONFIG = """
gateway: {{id: it-cabinet, site: test}}
state_dir: {state}
drivers:{drivers}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
"""


def edgepost() -> list[str]:
    script = Path(sys.executable).parent / "edgepost"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli.main"]


@pytest.fixture
def cabinet_line(tmp_path: Path) -> Iterator[str]:
    """``edgepost simulate --spec`` on one end of a pty pair; yields the other end."""
    with socat_pty_pair() as (sim_port, agent_port):
        spec = tmp_path / "sim.yaml"
        spec.write_text(SIM.replace("PORT", sim_port))
        proc = subprocess.Popen([*edgepost(), "simulate", "--spec", str(spec)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(2)]
            assert lines[-1].strip() == "ready", (lines, proc.stderr.read() if proc.poll() is not None else "")
            yield agent_port
        finally:
            proc.kill()
            proc.communicate(timeout=10)


def status(config: Path) -> dict[str, Any]:
    out = subprocess.run([*edgepost(), "--json", "--config", str(config), "status"],
                         capture_output=True, timeout=30, check=True).stdout
    data: dict[str, Any] = orjson.loads(out)["status"]
    return data


def run_agent(tmp_path: Path, port: str, with_modbus: bool, enough: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the agent until ``enough(records)``; the records the broker got and the last status."""
    state, config = tmp_path / "state", tmp_path / "config.yaml"
    drivers = DLT645.format(port=port, three=_periods(THREE_PHASE), single=_periods(SINGLE_PHASE))
    if with_modbus:
        drivers += MODBUS_SECTION.format(port=port, modbus=_periods(MODBUS))
    with Mosquitto(tmp_path) as broker, broker.collector("edgepost/#") as sub:
        config.write_text(CONFIG.format(state=state, drivers=drivers, mqtt_port=broker.port))
        with (tmp_path / "agent.log").open("ab") as log:
            agent = subprocess.Popen([*edgepost(), "--config", str(config), "run"], stdout=log, stderr=log)
        try:
            wait_until(lambda: (state / "control.sock").exists(), 60, "control socket")
            wait_until(lambda: enough(records_of(sub)), 120, "every point upstream")
            last = status(config)
        finally:
            agent.terminate()
            agent.wait(30)
        return records_of(sub), last  # type: ignore[return-value]


def _points_upstream(records: list[dict[str, Any]], expected: dict[str, dict[str, float]], count: int) -> bool:
    seen: dict[tuple[str, str], int] = {}
    for r in records:
        if "pt" in r and r["dev"] in expected:
            seen[(r["dev"], r["pt"])] = seen.get((r["dev"], r["pt"]), 0) + 1
    return all(seen.get((dev, pt), 0) >= count for dev, values in expected.items() for pt in values)


def _wrong(records: list[dict[str, Any]], expected: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    return [r for r in records if "pt" in r and r["dev"] in expected
            and (r["q"] != "good" or r["v"] != expected[r["dev"]][r["pt"]])]


@pytest.mark.timeout(300)
def test_dlt645_meters_values_reach_mosquitto_as_served(cabinet_line: str, tmp_path: Path) -> None:
    expected = {"incomer": THREE_PHASE, "pole": SINGLE_PHASE}
    records, last = run_agent(tmp_path, cabinet_line, False, lambda rs: _points_upstream(rs, expected, 1))
    assert not _wrong(records, expected)
    states = {r["dev"]: r["data"]["state"] for r in records if r.get("ev") == "device_state"}
    assert states == {"incomer": "online", "pole": "online"}
    meters = last["drivers"]["meters"]
    assert meters["devices"]["incomer"]["state"] == "online" and meters["devices"]["incomer"]["readings"] > 0
    assert meters["devices"]["pole"]["line"]["timeouts"] == 0
    assert meters["buses"]["cabinet"]["state"] == "open"


@pytest.mark.timeout(300)
def test_a_mixed_modbus_and_dlt645_line_from_one_config(cabinet_line: str, tmp_path: Path) -> None:
    expected = {"incomer": THREE_PHASE, "pole": SINGLE_PHASE, "sdm": MODBUS}
    records, last = run_agent(tmp_path, cabinet_line, True, lambda rs: _points_upstream(rs, expected, 1))
    assert not _wrong(records, expected), "a value upstream that the simulator did not serve"
    drivers = last["drivers"]
    cabinet, bus1 = drivers["meters"]["buses"]["cabinet"], drivers["rs485"]["buses"]["bus1"]
    # one line, one queue: both buses report the same shared line, never two transactions at once
    assert bus1["shared_line"]["holders"] == 2 and bus1["shared_line"]["framing"] == "9600 8N1"
    assert cabinet["shared_line"]["holders"] == 2 and cabinet["shared_line"]["max_in_flight"] == 1
    assert cabinet["shared_line"]["hand_overs"] > 0
    # no collision and no framing error on either master
    assert all(v == 0 for v in cabinet["line"].values()), cabinet["line"]
    assert [bus1["line"][k] for k in ("timeouts", "crc_errors", "mismatched")] == [0, 0, 0], bus1["line"]
