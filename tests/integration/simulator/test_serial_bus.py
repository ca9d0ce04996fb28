"""A real pymodbus client against the simulator over a socat pty pair (RTU, wire-timed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException

from drivers.modbus.codec import decode_point
from drivers.modbus.simulator import SequenceSpec, SimulatedBus, SimulatedDevice, SineSpec
from tests.fixtures.serial import running_simulated_bus, socat_pty_pair
from tests.unit.simulator.sim_profiles import meter_profile

pytestmark = pytest.mark.hardware

PROFILE = meter_profile(turnaround_ms=2)


def devices() -> list[SimulatedDevice]:
    return [
        SimulatedDevice(1, PROFILE, {"voltage": 231.25, "current": SequenceSpec(values=[1.5, 2.5])}),
        SimulatedDevice(2, PROFILE, {"voltage": SineSpec(amplitude=0.0, offset=229.5), "energy": 99}),
        SimulatedDevice(5, PROFILE, {"voltage": 1.0}, faults=["silent"]),
    ]


@pytest.fixture
def bus() -> Iterator[tuple[str, SimulatedBus]]:
    with socat_pty_pair() as (master, slave), running_simulated_bus(slave, devices(), baud=19200) as sim:
        yield master, sim


@pytest.fixture
async def client(bus: tuple[str, SimulatedBus]) -> AsyncIterator[AsyncModbusSerialClient]:
    client = AsyncModbusSerialClient(bus[0], baudrate=19200, timeout=0.3, retries=0)
    assert await client.connect()
    yield client
    client.close()


async def read_voltage(client: AsyncModbusSerialClient, unit: int) -> float:
    response = await client.read_input_registers(0, count=2, device_id=unit)
    assert not response.isError(), response
    value = decode_point(PROFILE.points["voltage"], response.registers)
    assert isinstance(value, float)
    return value


async def test_several_devices_on_one_bus_answer_their_generator_values(
    client: AsyncModbusSerialClient, bus: tuple[str, SimulatedBus]
) -> None:
    assert await read_voltage(client, 1) == 231.25
    assert await read_voltage(client, 2) == 229.5
    currents = []
    for _ in range(3):
        response = await client.read_input_registers(2, count=1, device_id=1)
        currents.append(decode_point(PROFILE.points["current"], response.registers))
    assert currents == [2.5, 1.5, 2.5]
    energy = await client.read_input_registers(10, count=2, device_id=2)
    assert decode_point(PROFILE.points["energy"], energy.registers) == 99
    # every answer left no earlier than the wire model allows
    assert bus[1].delay_errors_s
    assert min(bus[1].delay_errors_s) >= 0.0


async def test_unknown_and_silent_units_get_no_answer_and_the_bus_recovers(
    client: AsyncModbusSerialClient, bus: tuple[str, SimulatedBus]
) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=9)
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=5)
    assert bus[1].stats.unknown_unit == 1
    assert bus[1].stats.silent == 1
    assert await read_voltage(client, 1) == 231.25


async def test_illegal_address_and_exception_faults_switched_at_run_time(
    client: AsyncModbusSerialClient, bus: tuple[str, SimulatedBus]
) -> None:
    hole = await client.read_input_registers(0, count=12, device_id=1)
    assert hole.isError()
    assert hole.exception_code == 2
    bus[1].set_faults(1, ["exception:6"])
    busy = await client.read_input_registers(0, count=2, device_id=1)
    assert busy.isError()
    assert busy.exception_code == 6
    bus[1].set_faults(1, None)
    assert await read_voltage(client, 1) == 231.25


async def test_corrupted_crc_fails_that_request_only(
    client: AsyncModbusSerialClient, bus: tuple[str, SimulatedBus]
) -> None:
    bus[1].set_faults(2, ["corrupt-crc"])
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=2)
    assert bus[1].stats.corrupted == 1
    bus[1].set_faults(2, [])
    assert await read_voltage(client, 2) == 229.5


async def test_write_then_read_back(client: AsyncModbusSerialClient) -> None:
    written = await client.write_register(20, 42, device_id=2)
    assert not written.isError()
    back = await client.read_holding_registers(20, count=1, device_id=2)
    assert back.registers == [42]
    refused = await client.write_register(21, 1, device_id=2)
    assert refused.isError()
    assert refused.exception_code == 2
