"""Modbus TCP and RTU-over-TCP serving, with real pymodbus clients on loopback."""

from __future__ import annotations

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from drivers.modbus.codec import decode_point
from drivers.modbus.simulator import SimulatedDevice, SimulatedTcpServer, WireTiming
from tests.unit.simulator.sim_profiles import meter_profile

pytestmark = pytest.mark.network

PROFILE = meter_profile(turnaround_ms=1)


async def test_modbus_tcp_serves_several_units_and_ignores_others() -> None:
    server = SimulatedTcpServer(
        "127.0.0.1", 0,
        [SimulatedDevice(1, PROFILE, {"current": 3.5}), SimulatedDevice(7, PROFILE, {"current": 0.25})],
    )
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=0.3, retries=0)
    try:
        assert await client.connect()
        for unit, expected in ((1, 3.5), (7, 0.25)):
            response = await client.read_input_registers(2, count=1, device_id=unit)
            assert decode_point(PROFILE.points["current"], response.registers) == expected
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(2, count=1, device_id=3)
        written = await client.write_register(20, 64, device_id=7)
        assert not written.isError()
        back = await client.read_holding_registers(20, count=1, device_id=7)
        assert back.registers == [64]
        ident = await client.read_device_information(device_id=1)
        assert ident.information[0] == b"Test Co"
        assert server.stats.answered == 5
        assert server.stats.unknown_unit == 1
    finally:
        client.close()
        await server.stop()


async def test_rtu_over_tcp_with_a_modelled_serial_line() -> None:
    server = SimulatedTcpServer(
        "127.0.0.1", 0, [SimulatedDevice(2, PROFILE, {"voltage": 12.5})],
        framing="rtu", wire_timing=WireTiming(9600),
    )
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, framer=FramerType.RTU, timeout=0.5, retries=0)
    try:
        assert await client.connect()
        response = await client.read_input_registers(0, count=2, device_id=2)
        assert decode_point(PROFILE.points["voltage"], response.registers) == 12.5
        server.set_faults(2, ["corrupt-crc"])
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(0, count=2, device_id=2)
    finally:
        client.close()
        await server.stop()
