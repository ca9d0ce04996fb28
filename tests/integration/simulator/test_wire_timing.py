"""Served answers on a pty are never faster than the wire model (measured from the client side)."""

from __future__ import annotations

import time

import pytest
from pymodbus.client import ModbusSerialClient

from drivers.modbus.simulator import SimulatedBus, SimulatedDevice
from tests.unit.simulator.sim_profiles import meter_profile

pytestmark = pytest.mark.hardware

PROFILE = meter_profile(turnaround_ms=3)


@pytest.mark.parametrize(
    "simulated_serial_bus",
    [{"devices": [SimulatedDevice(1, PROFILE, {"current": 1.0})], "baud": 9600, "parity": "E"}],
    indirect=True,
)
def test_round_trip_is_at_least_the_modelled_wire_time(simulated_serial_bus: tuple[str, SimulatedBus]) -> None:
    port, bus = simulated_serial_bus
    # a pty carries bytes, not bits: the client's parity setting is irrelevant (and pymodbus's sync
    # client cannot set it on a pty); the simulator models 8E1 characters on its side
    client = ModbusSerialClient(port, baudrate=9600, timeout=0.5, retries=0)
    assert client.connect()
    try:
        for count in (1, 3):
            started = time.perf_counter()
            response = client.read_input_registers(0, count=count, device_id=1)
            elapsed = time.perf_counter() - started
            assert not response.isError()
            # 8-byte request, 5 + 2n byte response, 11-bit characters (8E1), 3 ms turnaround
            modelled = bus.timing.response_delay_s(8, 5 + 2 * count, 0.003)
            assert modelled == pytest.approx((8 + 3.5 + 5 + 2 * count) * 11 / 9600 + 0.003, rel=1e-12)
            assert elapsed >= modelled
    finally:
        client.close()
    assert len(bus.delay_errors_s) == 2
    assert min(bus.delay_errors_s) >= 0.0
