"""The real daemon with a meter that refuses every register while it boots (exception 2).

Its points are learned unreadable; ``edgepost status`` shows what was learned and when it is asked
again; a re-probe, or ``edgepost learned forget``, brings them back without a restart, and the
learned file in the state dir follows. Readings go through ``edgepost run`` to a real mosquitto.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SequenceSpec, SimulatedDevice
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.agent.conftest import Pole, records_of, wait_until

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]

CONFIG = """
gateway: {{id: it-pole, site: test}}
state_dir: {state}
drivers:
  - driver: modbus
    name: rs485
    reprobe_after_s: {reprobe_s}
    reprobe_max_s: {reprobe_max_s}
    buses:
      - {{name: bus1, transport: serial, port: "{port}", baudrate: 38400, timeout_s: 0.3, retries: 0}}
    devices:
      - {{name: meter, bus: bus1, unit_id: 1, profile: eastron/sdm120,
          points: {{voltage: {{period: 0.2}}, current: {{period: 0.2}}}}}}
uplink: {{host: 127.0.0.1, port: {mqtt_port}}}
control: {{socket: {state}/control.sock, group: null}}
outbox: {{durability: process-safe}}
"""
POINTS = ["current", "voltage"]  # input registers 6..8 and 0..2; 2..6 is a hole in the SDM120's map


@pytest.fixture
def booting(tmp_path: Path) -> Iterator[tuple[Pole, SimulatedDevice]]:
    """A pole whose meter answers exception 2 to everything until the test clears that fault."""
    # values that change every read: a constant one would stay inside the pipeline's deadband
    meter = SimulatedDevice(
        1,
        ProfileRegistry.load().get("eastron/sdm120"),
        {"voltage": SequenceSpec(values=[228.0, 232.0]), "current": SequenceSpec(values=[1.0, 2.0])},
        faults=["exception:2"],
    )
    with (
        Mosquitto(tmp_path) as broker,
        socat_pty_pair() as (sim_port, agent_port),
        running_simulated_bus(sim_port, [meter], baud=38400),
    ):
        pole = Pole(tmp_path, broker, agent_port, tmp_path / "config.yaml", tmp_path / "state")
        try:
            yield pole, meter
        finally:
            if pole.proc is not None and pole.proc.poll() is None:
                pole.proc.kill()
                pole.proc.wait(10)


def write_config(pole: Pole, reprobe_s: float, reprobe_max_s: float) -> None:
    pole.write_config(text=CONFIG.format(state=pole.state, port=pole.agent_port, mqtt_port=pole.broker.port,
                                         reprobe_s=reprobe_s, reprobe_max_s=reprobe_max_s))


def edgepost(pole: Pole, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "--config", str(pole.config), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )


def meter_status(pole: Pole) -> dict[str, Any]:
    done = edgepost(pole, "--json", "status")
    if done.returncode != 0:
        return {}
    status: dict[str, Any] = orjson.loads(done.stdout)["status"]
    return status["drivers"]["rs485"]["devices"]["meter"]  # type: ignore[no-any-return]


def good(collector: Any, point: str) -> list[Any]:
    return [r["v"] for r in records_of(collector) if r.get("pt") == point and r.get("q") == "good"]


def saved(pole: Pole) -> dict[str, Any]:
    path = pole.state / "modbus" / "rs485.illegal.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def saved_spans(pole: Pole) -> list[tuple[int, int]]:
    return [(int(row[0]), int(row[1])) for rows in saved(pole).get("meter", {}).values() for row in rows]


def test_status_shows_what_was_learned_and_forget_brings_the_points_back(
    booting: tuple[Pole, SimulatedDevice],
) -> None:
    pole, meter = booting
    write_config(pole, reprobe_s=600, reprobe_max_s=86_400)  # no re-probe within the test
    with pole.broker.collector("edgepost/#") as sub:
        pole.start_agent()
        wait_until(lambda: meter_status(pole).get("unreadable") == POINTS, timeout=40, what="points unreadable")
        status = meter_status(pole)
        spans = {(r["start"], r["end"]) for r in status["learned_ranges"]}
        assert {(0, 2), (6, 8)} <= spans
        assert all(r["table"] == "input" and r["refusals"] == 1 for r in status["learned_ranges"])
        assert status["next_reprobe_at"] == pytest.approx(min(r["learned_at"] for r in status["learned_ranges"]) + 600)
        assert status["next_reprobe_at"] > time.time() + 500
        wait_until(lambda: {(0, 2), (6, 8)} <= set(saved_spans(pole)), what="learned ranges saved")
        human = edgepost(pole, "status")
        assert human.returncode == 0, human.stderr
        # what a person reads: the meter's learned-ranges table; its headers are the key's words, wrapped
        # ("next" over "probe"), and a time ahead is told as "in 9 min" (ops' status rendering)
        assert "meter/learned_ranges" in human.stdout, human.stdout
        table = human.stdout.split("meter/learned_ranges", 1)[1].split("└", 1)[0]
        assert re.search(r"┃ next +┃\n.*┃ probe +┃", table), table
        assert re.search(r"│ input +│ 0 +│ 2 +│ 1 +│", table) and re.search(r"│ input +│ 6 +│ 8 +│ 1 +│", table), table
        assert re.search(r"│ in (9|10) min +│", table), table  # the re-probe, about 10 minutes ahead

        meter.set_faults([])  # booted; without a re-probe due, the points stay unread
        time.sleep(1.0)
        assert meter_status(pole)["unreadable"] == POINTS and not good(sub, "voltage")

        done = edgepost(pole, "learned", "forget", "meter")
        assert done.returncode == 0, done.stderr
        assert "forgot" in done.stdout and "voltage" in done.stdout and "running daemon" in done.stdout
        wait_until(lambda: len(good(sub, "voltage")) >= 2 and len(good(sub, "current")) >= 2,
                   what="readings after forget")
        assert set(good(sub, "voltage")) <= {228.0, 232.0}
        after = meter_status(pole)
        assert after["unreadable"] == []
        # the points' own registers are forgotten in the file too (the map's real hole may be learned again)
        wait_until(lambda: not {(0, 2), (6, 8)} & set(saved_spans(pole)), what="the file forgot them")
        assert all(r["start"] >= 2 and r["end"] <= 6 for r in after["learned_ranges"])

        unknown = edgepost(pole, "learned", "forget", "nosuch")
        assert unknown.returncode != 0 and "nosuch" in unknown.stderr
        assert pole.stop_agent() == 0

    # without a daemon, the CLI forgets it in the state dir
    assert saved(pole).get("meter"), "the hole learned after the forget was saved at shutdown"
    done = edgepost(pole, "learned", "forget", "meter")
    assert done.returncode == 0, done.stderr
    assert "state dir" in done.stdout
    assert "meter" not in saved(pole)


def test_points_refused_while_booting_come_back_after_a_reprobe(booting: tuple[Pole, SimulatedDevice]) -> None:
    pole, meter = booting
    write_config(pole, reprobe_s=0.5, reprobe_max_s=2.0)
    with pole.broker.collector("edgepost/#") as sub:
        pole.start_agent()
        wait_until(lambda: meter_status(pole).get("unreadable") == POINTS, timeout=40, what="points unreadable")
        wait_until(lambda: min((r["refusals"] for r in meter_status(pole)["learned_ranges"]), default=0) >= 2,
                   what="re-probes refused while the meter still boots")
        meter.set_faults([])
        wait_until(lambda: len(good(sub, "voltage")) >= 2 and len(good(sub, "current")) >= 2,
                   what="readings once a re-probe read the registers")
        assert meter_status(pole)["unreadable"] == []
        wait_until(lambda: not {(0, 2), (6, 8)} & set(saved_spans(pole)), what="the file forgot them")
        assert pole.stop_agent() == 0
    assert "event=illegal_range_forgotten" in pole.log() and "event=point_readable_again" in pole.log()
