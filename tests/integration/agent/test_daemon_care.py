"""Care alarms from water use, end to end: `edgepost run` over a real mosquitto and a socat pty.

A simulated TUF-2000M water meter's totaliser follows a script: water runs for 30 s (a tap left open),
stops for 30 s (nobody home), then runs again. The config scales the rules' hours down to seconds
(``hours: 0.003`` = 10.8 s, intervals of 1.8 s). Upstream must see, in the alarm lane and in this
order: continuous_flow raised and cleared, then inactivity raised and cleared. The rule state is in
the state dir (care.json, 0640) when the agent stops.

With a tap that never closes: the alarm still active across a restart is not raised again, and a
care rule taken out of the config (by a reload, or while the agent was down) clears it upstream.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import CounterSpec, CounterStep, SimulatedDevice
from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.agent.conftest import Pole, records_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow, pytest.mark.timeout(300)]

CONFIG = """
gateway: {{id: care-pole}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 38400, timeout_s: 0.3}}
    devices:
      - {{name: flat-0301, bus: bus1, unit_id: 1, profile: oem/tuf-2000m, points: {{positive_total: {{period: 0.2}}}}}}
{care}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""

CARE = """
care:
  timezone: Asia/Shanghai
  points:
    flat-0301.positive_total:
      inactivity: {hours: 0.003, interval_min: 0.03}
      continuous_flow: {hours: 0.003, interval_min: 0.03, severity: critical}
"""

# starts with the simulator, just before the agent: the agent's start-up eats into the first 30 s
SCRIPT = CounterSpec(start=500, script=[CounterStep(seconds=30, rate=1.0), CounterStep(seconds=30, rate=0.0),
                                        CounterStep(rate=1.0)])


@dataclass
class CarePole(Pole):
    def configure(self, care: str | None = CARE) -> None:
        self.write_config(text=CONFIG.format(state=self.state, port=self.agent_port, mqtt_port=self.broker.port,
                                             care=care or ""))

    def start(self) -> None:
        readies = self.log().count("event=agent_ready") if self.log_path.exists() else 0
        proc = self.start_agent()
        wait_until(lambda: self.log().count("event=agent_ready") > readies or proc.poll() is not None,
                   what="the agent to start")
        assert proc.poll() is None, self.log()[-3000:]


@pytest.fixture
def care_pole(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CarePole]:
    script = getattr(request, "param", SCRIPT)
    meter = SimulatedDevice(1, ProfileRegistry.load().get("oem/tuf-2000m"), {"positive_total": script})
    with Mosquitto(tmp_path, persistence=True) as broker, socat_pty_pair() as (sim_port, agent_port), \
            running_simulated_bus(sim_port, [meter], baud=38400):
        pole = CarePole(tmp_path, broker, agent_port, tmp_path / "config.yaml", tmp_path / "state")
        pole.configure()
        try:
            yield pole
        finally:
            if pole.proc is not None and pole.proc.poll() is None:
                pole.proc.kill()
                pole.proc.wait(10)


def care_events(sub: Collector) -> list[dict[str, object]]:
    """Raise/clear records of the care rules, in seq order, duplicates by seq dropped."""
    seen: dict[int, dict[str, object]] = {}
    for rec in records_of(sub):
        data = rec.get("data")
        if rec.get("ev") in ("alarm", "alarm_cleared") and isinstance(data, dict) and data.get("rule") == "care":
            seen[int(rec["seq"])] = rec  # type: ignore[call-overload]
    return [seen[s] for s in sorted(seen)]


def transitions(sub: Collector) -> list[tuple[str, str, str]]:
    return [(str(r["ev"]), str(r["data"]["alarm"]), str(r["pri"])) for r in care_events(sub)]  # type: ignore[index]


def test_a_scripted_water_meter_raises_and_clears_both_care_alarms_in_the_alarm_lane(care_pole: CarePole) -> None:
    pole = care_pole
    with pole.broker.collector("edgepost/#") as sub:
        proc = pole.start_agent()
        wait_until(lambda: len(transitions(sub)) >= 4 or proc.poll() is not None, timeout=150,
                   what="both care alarms raised and cleared upstream")
        assert proc.poll() is None, pole.log()[-3000:]
        assert pole.stop_agent() == 0
    assert transitions(sub) == [
        ("alarm", "continuous_flow", "alarm"),
        ("alarm_cleared", "continuous_flow", "alarm"),
        ("alarm", "inactivity", "alarm"),
        ("alarm_cleared", "inactivity", "alarm"),
    ], pole.log()[-3000:]
    flow_raise, _, idle_raise, _ = care_events(sub)
    assert flow_raise["dev"] == "flat-0301"
    assert flow_raise["data"] == flow_raise["data"] | {"point": "positive_total", "severity": "critical",  # type: ignore[operator]
                                                       "hours": 0.003}
    assert idle_raise["data"]["held_h"] >= 0.003  # type: ignore[index,operator]
    path = pole.state / "care.json"
    assert path.stat().st_mode & 0o777 == 0o640
    saved = {(r["rule"], r["alarming"]) for r in orjson.loads(path.read_bytes())["rules"]}
    assert saved == {("continuous_flow", False), ("inactivity", False)}
    alarms = orjson.loads((pole.state / "alarms.json").read_bytes())["active"]
    assert alarms == []


OPEN_TAP = CounterSpec(start=500, script=[CounterStep(rate=1.0)])


def totals(sub: Collector) -> int:
    """Totaliser readings upstream (it rises 1 m³/s; with its 1 m³ deadband one passes every 2 s)."""
    return sum(1 for r in records_of(sub) if r.get("dev") == "flat-0301" and r.get("pt") == "positive_total")


@pytest.mark.parametrize("care_pole", [OPEN_TAP], indirect=True)
def test_a_care_alarm_is_not_raised_again_after_a_restart_and_clears_when_its_rule_goes(care_pole: CarePole) -> None:
    pole = care_pole
    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.start()
        wait_until(lambda: transitions(sub) == [("alarm", "continuous_flow", "alarm")], timeout=60,
                   what="the continuous_flow raise upstream")
        assert pole.stop_agent() == 0
        pole.start()  # the tap is still open
        seen = totals(sub)
        wait_until(lambda: totals(sub) >= seen + 12, timeout=90, what="12 readings (about 24 s) after the restart")
        assert transitions(sub) == [("alarm", "continuous_flow", "alarm")]
        pole.configure(care=None)  # the care section is taken out of the config, and reloaded
        assert pole.proc is not None
        pole.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: len(transitions(sub)) >= 2, timeout=60, what="the clear upstream")
        assert pole.stop_agent() == 0
    assert transitions(sub) == [("alarm", "continuous_flow", "alarm"), ("alarm_cleared", "continuous_flow", "alarm")]
    assert care_events(sub)[-1]["data"]["reason"] == "rule_removed"  # type: ignore[index]
    assert orjson.loads((pole.state / "alarms.json").read_bytes())["active"] == []


@pytest.mark.parametrize("care_pole", [OPEN_TAP], indirect=True)
def test_a_care_rule_removed_while_the_agent_was_down_clears_at_start(care_pole: CarePole) -> None:
    pole = care_pole
    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.start()
        wait_until(lambda: transitions(sub) == [("alarm", "continuous_flow", "alarm")], timeout=60,
                   what="the continuous_flow raise upstream")
        assert pole.stop_agent(signal.SIGKILL) != 0
        pole.configure(care=None)
        pole.start()
        wait_until(lambda: len(transitions(sub)) >= 2, timeout=60, what="the clear upstream")
        assert pole.stop_agent() == 0
    assert transitions(sub) == [("alarm", "continuous_flow", "alarm"), ("alarm_cleared", "continuous_flow", "alarm")]
    assert care_events(sub)[-1]["data"]["reason"] == "rule_removed"  # type: ignore[index]
