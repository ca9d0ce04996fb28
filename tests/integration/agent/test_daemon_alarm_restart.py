"""Alarm state survives a restart of the real daemon (SIGTERM and kill -9).

A simulated WitMotion tilt sensor on a socat pty tilts its cover past the profile's 10 degree alarm
(``cover_tilt_roll``, hysteresis 2); `edgepost run` raises it upstream over a real mosquitto. The
agent is stopped, the simulated cover is put back level, the agent starts again: upstream must see
exactly one clear and never a second raise. An alarm still active across a restart is not raised
again; one whose device or rule left the config while the agent was down is cleared at start.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, RandomWalkSpec, SimulatedDevice
from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.agent.conftest import Pole, records_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow, pytest.mark.timeout(300)]

ALARM = "cover_tilt_roll"
CONFIG = """
gateway: {{id: tilt-pole}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 38400, timeout_s: 0.3}}
    devices:
      - {{name: meter, bus: bus1, unit_id: 1, profile: eastron/sdm120, points: {{voltage: {{period: 0.2}}}}}}
{manhole}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""
MANHOLE = ("      - {name: manhole, bus: bus1, unit_id: 3, profile: witmotion/wt901c-485, period_s: 0.2,"
           " points: POINTS EXTRA}")


@dataclass
class TiltPole(Pole):
    sensor: SimulatedDevice | None = None

    def configure(self, points: str | None = "{roll: {period: 0.2}, pitch: {period: 0.2}}", extra: str = "") -> None:
        """The tilt sensor polls ``points`` (None: it is left out of the config) with ``extra`` fields."""
        line = "" if points is None else MANHOLE.replace("POINTS", points).replace(" EXTRA", extra)
        self.write_config(text=CONFIG.format(state=self.state, port=self.agent_port, mqtt_port=self.broker.port,
                                             manhole=line))

    def tilt(self, degrees: float) -> None:
        assert self.sensor is not None
        self.sensor.set_generator("roll", ConstantSpec(value=degrees))

    def start(self) -> None:
        readies = self.log().count("event=agent_ready") if self.log_path.exists() else 0
        proc = self.start_agent()
        wait_until(lambda: self.log().count("event=agent_ready") > readies or proc.poll() is not None,
                   what="the agent to start")
        assert proc.poll() is None, self.log()[-3000:]

    def saved_alarms(self) -> list[str]:
        path = self.state / "alarms.json"
        if not path.exists():
            return []
        return [entry["alarm"] for entry in orjson.loads(path.read_bytes())["active"]]


@pytest.fixture
def tilt_pole(tmp_path: Path) -> Iterator[TiltPole]:
    registry = ProfileRegistry.load()
    pitch = RandomWalkSpec(step=1.0, min=-3.0, max=3.0, seed=5)
    sensor = SimulatedDevice(3, registry.get("witmotion/wt901c-485"), {"roll": ConstantSpec(value=0.5), "pitch": pitch})
    voltage = RandomWalkSpec(step=2.0, min=200.0, max=260.0, seed=1)  # walks: its readings pass the deadband
    meter = SimulatedDevice(1, registry.get("eastron/sdm120"), {"voltage": voltage})
    with Mosquitto(tmp_path, persistence=True) as broker, socat_pty_pair() as (sim_port, agent_port), \
            running_simulated_bus(sim_port, [meter, sensor], baud=38400):
        pole = TiltPole(tmp_path, broker, agent_port, tmp_path / "config.yaml", tmp_path / "state", sensor=sensor)
        pole.configure()
        try:
            yield pole
        finally:
            if pole.proc is not None and pole.proc.poll() is None:
                pole.proc.kill()
                pole.proc.wait(10)


def transitions(sub: Collector) -> list[tuple[str, str]]:
    """(ev, reason) of every upstream raise/clear of the roll alarm, in seq order, duplicates by seq dropped."""
    seen: dict[int, tuple[str, str]] = {}
    for rec in records_of(sub):
        data = rec.get("data")
        if rec.get("ev") in ("alarm", "alarm_cleared") and isinstance(data, dict) and data.get("alarm") == ALARM:
            seen[int(rec["seq"])] = (str(rec["ev"]), str(data.get("reason", "")))  # type: ignore[call-overload]
    return [seen[s] for s in sorted(seen)]


def cycles(sub: Collector) -> int:
    """Upstream pitch readings: pitch walks, so most pass the deadband, and each came in the same read
    as a roll value the alarm rule evaluated (a constant roll is mostly dropped by its deadband)."""
    return sum(1 for r in records_of(sub) if r.get("dev") == "manhole" and r.get("pt") == "pitch")


def meter_readings(sub: Collector) -> int:
    return sum(1 for r in records_of(sub) if r.get("dev") == "meter")


def raise_alarm(pole: TiltPole, sub: Collector) -> None:
    pole.tilt(15.0)
    wait_until(lambda: transitions(sub) == [("alarm", "")], what="the raise upstream")
    wait_until(lambda: pole.saved_alarms() == [ALARM], what="the raise saved in the state dir")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_an_alarm_that_cleared_while_the_agent_was_down_is_cleared_once(tilt_pole: TiltPole, stop_signal: int) -> None:
    pole = tilt_pole
    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.start()
        raise_alarm(pole, sub)
        pole.stop_agent(stop_signal)
        pole.tilt(0.5)  # levelled while the agent is down
        pole.start()
        wait_until(lambda: ("alarm_cleared", "") in transitions(sub), what="the clear upstream")
        seen = cycles(sub)
        wait_until(lambda: cycles(sub) >= seen + 10, what="readings after the clear")
        assert pole.stop_agent() == 0
    assert transitions(sub) == [("alarm", ""), ("alarm_cleared", "")]
    assert pole.saved_alarms() == []
    mode = (pole.state / "alarms.json").stat().st_mode & 0o777
    assert mode == 0o640, oct(mode)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_an_alarm_still_active_after_a_restart_is_not_raised_again(tilt_pole: TiltPole, stop_signal: int) -> None:
    pole = tilt_pole
    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.start()
        raise_alarm(pole, sub)
        pole.stop_agent(stop_signal)
        before = cycles(sub)
        pole.start()  # still tilted
        wait_until(lambda: cycles(sub) >= before + 10, what="readings after the restart")
        assert transitions(sub) == [("alarm", "")]
        pole.tilt(0.5)  # and it still clears, once
        wait_until(lambda: len(transitions(sub)) >= 2, what="the clear upstream")
        assert pole.stop_agent() == 0
    assert transitions(sub) == [("alarm", ""), ("alarm_cleared", "")]


@pytest.mark.parametrize(
    ("points", "extra", "reason"),
    [(None, "", "device_removed"),
     ("{roll: {period: 0.2}, pitch: {period: 0.2}}", ", alarms: {cover_tilt_roll: {enabled: false}}", "rule_removed"),
     ("{pitch: {period: 0.2}}", "", "rule_removed")],
    ids=["device-removed", "rule-disabled", "point-no-longer-polled"],
)
def test_an_alarm_whose_device_or_rule_left_the_config_is_cleared_at_start(
    tilt_pole: TiltPole, points: str | None, extra: str, reason: str
) -> None:
    pole = tilt_pole
    with pole.broker.collector("edgepost/#", persistent=True) as sub:
        pole.start()
        raise_alarm(pole, sub)
        assert pole.stop_agent() == 0
        pole.configure(points, extra)
        pole.start()  # still tilted, but the alarm is gone from the config
        wait_until(lambda: len(transitions(sub)) >= 2, what="the clear upstream")
        seen = meter_readings(sub)
        wait_until(lambda: meter_readings(sub) >= seen + 10, what="more records after the clear")
        assert pole.stop_agent() == 0
    assert transitions(sub) == [("alarm", ""), ("alarm_cleared", reason)]
    assert pole.saved_alarms() == []
