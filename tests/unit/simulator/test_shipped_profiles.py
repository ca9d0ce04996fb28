"""Every shipped firmware profile can be simulated: each readable point reads back through the codec."""

from __future__ import annotations

import pytest
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from drivers.modbus.codec import decode_point
from drivers.modbus.profile import Table
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator import SimulatedDevice

REGISTRY = ProfileRegistry.load()
REQUESTS: dict[Table, type[ModbusPDU]] = {
    Table.COIL: ReadCoilsRequest,
    Table.DISCRETE: ReadDiscreteInputsRequest,
    Table.HOLDING: ReadHoldingRegistersRequest,
    Table.INPUT: ReadInputRegistersRequest,
}


def test_the_shipped_profiles_load() -> None:
    assert REGISTRY.ids(), "no shipped profiles found"
    assert REGISTRY.errors == []


@pytest.mark.parametrize("profile_id", REGISTRY.ids())
def test_every_point_of_a_shipped_profile_reads_its_simulated_value(profile_id: str) -> None:
    profile = REGISTRY.get(profile_id)
    device = SimulatedDevice(7, profile)
    for name, point in profile.points.items():
        if not point.access.readable:
            continue
        width = 1 if point.table.is_bit else point.register_count
        response = device.handle(REQUESTS[point.table](address=point.address, count=width, dev_id=7))
        assert not response.isError(), f"{profile_id}.{name}: {response}"
        words = [int(b) for b in response.bits[:1]] if point.table.is_bit else list(response.registers)
        assert decode_point(point, words) == device.value_of(name), f"{profile_id}.{name}"
