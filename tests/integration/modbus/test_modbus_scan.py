"""``scan``/``identify`` over a socat pty pair against simulated devices with firmware registers."""

from __future__ import annotations

import pytest

from drivers.modbus.identify import ScanHit, scan
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import ConstantSpec, SimulatedDevice
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair

pytestmark = pytest.mark.hardware


async def test_scan_finds_and_names_devices() -> None:
    registry = ProfileRegistry.load()
    devices = [
        # the firmware register is also the profile's software_version point, which the simulator
        # fills from its generator (engineering units, scale 0.01): make it say 1.00
        SimulatedDevice(
            3, registry.get("waveshare/analog-output-8ch-b"), {"software_version": ConstantSpec(value=1.0)}
        ),
        SimulatedDevice(4, registry.get("witmotion/wt901c-485-v2"), firmware="2.05"),
    ]
    progress: list[tuple[int, bool]] = []

    def on_progress(baud: int, parity: str, unit: int, hit: ScanHit | None) -> None:
        progress.append((unit, hit is not None))

    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, devices):
        hits = await scan(master, range(1, 6), [9600], ["N"], on_progress, registry=registry, timeout_s=0.2)
    assert progress == [(1, False), (2, False), (3, True), (4, True), (5, False)]
    by_unit = {hit.unit: hit for hit in hits}
    assert set(by_unit) == {3, 4}
    lamp, tilt = by_unit[3].best, by_unit[4].best
    assert lamp is not None and lamp.profile == "waveshare/analog-output-8ch-b" and lamp.firmware == "1.00"
    assert tilt is not None and tilt.profile == "witmotion/wt901c-485-v2" and tilt.firmware == "2.05"
    assert tilt.firmware_in_range is True
    # the v1 profile reads the same registers but its firmware range does not cover 2.05
    v1 = [m for m in by_unit[4].matches if m.profile == "witmotion/wt901c-485"]
    assert v1 and v1[0].firmware_in_range is False
