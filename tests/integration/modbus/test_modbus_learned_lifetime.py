"""Learned illegal ranges are not forever: a device that refuses everything while it boots gets its
points polled again once it answers, over a real socat pty against the device simulator.

The simulator's ``exception:2`` fault answers every request with ILLEGAL DATA ADDRESS, as a meter
in set-up mode does; clearing the fault is the end of the boot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.records import Quality
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.modbus.helpers import CollectingSink, running_driver, until

pytestmark = pytest.mark.hardware

REGISTRY = ProfileRegistry.load()
POINTS = ["voltage", "current"]  # input 0..2 and 6..8 of the SDM120; 2..6 is a hole in its map


def config(port: str) -> dict[str, object]:
    return {
        "reprobe_after_s": 0.3,
        "reprobe_max_s": 1.2,
        "buses": [{"transport": "serial", "name": "rs485", "port": port, "timeout_s": 0.3, "retries": 0}],
        "devices": [
            {"name": "meter", "bus": "rs485", "unit_id": 1, "profile": "eastron/sdm120",
             "points": {name: {"period": 0.3} for name in POINTS}}
        ],
    }


def good(sink: CollectingSink, point: str, since: int = 0) -> list[object]:
    return [
        r.value for r in sink.readings("meter")[since:] if r.point == point and r.quality is Quality.GOOD
    ]


def saved_ranges(state_dir: Path) -> list[list[float]]:
    path = state_dir / "modbus" / "mb.illegal.json"
    if not path.is_file():
        return []
    return [row for rows in json.loads(path.read_text()).get("meter", {}).values() for row in rows]


async def test_points_refused_while_booting_are_polled_again_once_a_reprobe_reads_them(tmp_path: Path) -> None:
    meter = SimulatedDevice(
        1, REGISTRY.get("eastron/sdm120"), {"voltage": ConstantSpec(value=229.0)}, faults=["exception:2"]
    )
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, [meter]):
        async with running_driver(config(master), tmp_path) as (driver, sink):
            poller = driver.pollers["meter"]
            await until(lambda: poller.unreadable == set(POINTS))
            # still refusing: each re-probe doubles the wait (0.3, 0.6, 1.2 s, capped), and the file says so
            await until(lambda: min((e.refusals for e in poller.illegal), default=0) >= 3)
            status = driver.status()["devices"]["meter"]  # type: ignore[index]
            assert status["unreadable"] == sorted(POINTS)  # type: ignore[index]
            ranges = status["learned_ranges"]  # type: ignore[index]
            assert {(r["start"], r["end"]) for r in ranges} >= {(0, 2), (6, 8)}  # type: ignore[index]
            assert status["next_reprobe_at"] == min(r["next_probe_at"] for r in ranges)  # type: ignore[index]
            for entry in poller.illegal:
                assert entry.next_probe_at - entry.learned_at >= 0.3 + 0.6  # two waits behind it at least
            await until(lambda: any(row[4] >= 3 for row in saved_ranges(tmp_path)))
            assert not good(sink, "voltage")

            meter.set_faults([])  # booted
            await until(lambda: len(good(sink, "voltage")) >= 3 and len(good(sink, "current")) >= 3)
            assert set(good(sink, "voltage")) == {229.0}
            assert poller.unreadable == set()
            status = driver.status()["devices"]["meter"]  # type: ignore[index]
            assert status["unreadable"] == []  # type: ignore[index]
            # the points' own registers are forgotten, on disk too; only the map's real hole may stay
            await until(lambda: not any(row[0] < 2 or row[1] > 6 for row in saved_ranges(tmp_path)))
            assert all(r["start"] >= 2 and r["end"] <= 6 for r in status["learned_ranges"])  # type: ignore[index]
