"""Holes are merged by wire cost when the profile sets no hole limit, and a device that refuses a hole
teaches it: over a real socat pty against the device simulator (38400 baud, wire-timed).

Three points 10 registers apart: one read of 24 registers costs 20 characters of hole more than three
reads of 2, and saves two requests of ~39 character times each (13 frame bytes, 2 x 3.5 silence, 5 ms
turnaround), so the wire says merge. A fixed ``max_hole: 8`` never could.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.records import Quality
from drivers.modbus.profile import Profile, Table
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice
from drivers.modbus.simulator.device import HolePolicy
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.integration.modbus.helpers import CollectingSink, registry_of, running_driver, until

pytestmark = pytest.mark.hardware

PROFILE = Profile.model_validate({
    "id": "bench/scattered",
    "vendor": "Bench",
    "model": "Scattered",
    "source": "test",
    "points": {
        "a": {"table": "input", "address": 0, "type": "float32"},
        "b": {"table": "input", "address": 12, "type": "float32"},
        "c": {"table": "input", "address": 24, "type": "float32"},
    },
})  # no ``limits:``: the profile defaults
VALUES = {"a": 1.5, "b": 2.5, "c": 3.5}


def config(port: str) -> dict[str, object]:
    return {
        "buses": [{"transport": "serial", "name": "rs485", "port": port, "baudrate": 38400, "timeout_s": 0.3,
                   "retries": 0}],
        "devices": [{"name": "dev", "bus": "rs485", "unit_id": 1, "profile": "bench/scattered", "period_s": 0.2}],
    }


def device(holes: HolePolicy) -> SimulatedDevice:
    return SimulatedDevice(1, PROFILE, {n: ConstantSpec(value=v) for n, v in VALUES.items()}, holes=holes)


def good_values(sink: CollectingSink) -> dict[str, set[object]]:
    out: dict[str, set[object]] = {}
    for r in sink.readings("dev"):
        assert r.quality is Quality.GOOD, r  # a refused hole never costs a value
        out.setdefault(r.point, set()).add(r.value)
    return out


async def test_a_device_that_answers_holes_is_read_in_one_request_per_cycle(tmp_path: Path) -> None:
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, [device(HolePolicy.ALLOW)], baud=38400):
        async with running_driver(config(master), tmp_path, registry_of(PROFILE)) as (driver, sink):
            poller = driver.pollers["dev"]
            await until(lambda: poller.counters.cycles >= 4)
            counters = poller.counters
            assert counters.requests == counters.cycles  # one read of registers 0..26 a cycle
            assert counters.exceptions == 0
            assert good_values(sink) == {n: {v} for n, v in VALUES.items()}


async def test_a_device_that_refuses_holes_teaches_them_and_is_then_read_without_refusals(tmp_path: Path) -> None:
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, [device(HolePolicy.REJECT)], baud=38400):
        async with running_driver(config(master), tmp_path, registry_of(PROFILE)) as (driver, sink):
            poller = driver.pollers["dev"]
            await until(lambda: poller.counters.cycles >= 2)
            learned = sorted((e.table, e.start, e.end) for e in poller.illegal)
            assert learned == [(Table.INPUT, 2, 12), (Table.INPUT, 14, 24)]
            refusals = poller.counters.exceptions
            cycles = poller.counters.cycles
            await until(lambda: poller.counters.cycles >= cycles + 4)
            assert poller.counters.exceptions == refusals  # no refusal once the holes are known
            assert poller.unreadable == set()
            assert good_values(sink) == {n: {v} for n, v in VALUES.items()}
