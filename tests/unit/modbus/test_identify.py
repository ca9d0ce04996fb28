"""Identification scoring over an in-process fake bus."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import DeviceTimeout
from drivers.modbus.bus import SerialBusQueue
from drivers.modbus.identify import identify
from drivers.modbus.profile import (
    DataType,
    DeviceIdentification,
    FirmwareRange,
    Identification,
    IdentRegister,
    Point,
    Profile,
    Table,
)
from drivers.modbus.profiles import ProfileRegistry
from tests.unit.modbus.fakes import FakeTransport, FakeUnit

H = Table.HOLDING
POINTS = {"x": Point(table=H, address=0)}


def profile(pid: str, ident: Identification, firmware: FirmwareRange | None = None) -> Profile:
    return Profile(
        id=pid,
        vendor=pid.split("/")[0],
        model=pid.split("/")[1],
        source="test",
        points=POINTS,
        identification=ident,
        firmware=firmware or FirmwareRange(),
    )


REGISTRY = ProfileRegistry(
    Path("."),
    {
        p.id: p
        for p in [
            profile(
                "acme/meter-v1",
                Identification(
                    registers=[
                        IdentRegister(address=100, expect=0x4D31),
                        IdentRegister(address=101, firmware=True),
                    ]
                ),
                FirmwareRange(max="1.99"),
            ),
            profile(
                "acme/meter-v2",
                Identification(
                    registers=[
                        IdentRegister(address=100, expect=0x4D31),
                        IdentRegister(address=101, firmware=True),
                    ]
                ),
                FirmwareRange(min="2.0"),
            ),
            profile("acme/probe", Identification(registers=[IdentRegister(address=200, expect=[7, 8])])),
            profile(
                "other/lamp",
                Identification(device_id=DeviceIdentification(vendor_name="Lumen", product_code="LC-1")),
            ),
            profile(
                "other/string",
                Identification(registers=[IdentRegister(address=300, type=DataType.STRING, length=4, expect="AB")]),
            ),
        ]
    },
    [],
)


def bus_for(unit: FakeUnit) -> tuple[SerialBusQueue, FakeTransport]:
    transport = FakeTransport({5: unit})
    return SerialBusQueue("rs1", transport, 0.0, retries=0), transport


async def test_meter_firmware_picks_the_variant() -> None:
    bus, transport = bus_for(FakeUnit(registers={H: {100: 0x4D31, 101: 210}}, illegal={H: {200, 300}}))
    matches = await identify(bus, 5, REGISTRY)
    assert [m.profile for m in matches[:2]] == ["acme/meter-v2", "acme/meter-v1"]
    best = matches[0]
    assert best.score == 1.0 and best.firmware == "2.10" and best.firmware_in_range is True
    assert matches[1].firmware_in_range is False
    # each identification register is read once, however many profiles ask for it
    reads = [(r.address, r.count) for r in transport.reads()]
    assert len(reads) == len(set(reads))


async def test_expect_lists_strings_and_fc43() -> None:
    bus, _ = bus_for(FakeUnit(registers={H: {200: 8, 300: 0x4142, 301: 0}}))
    names = [m.profile for m in await identify(bus, 5, REGISTRY) if m.score == 1.0]
    assert set(names) == {"acme/probe", "other/string"}
    bus, _ = bus_for(FakeUnit(registers={H: {}}, objects={0: b"Lumen Lighting", 1: b"LC-1"}))
    best = (await identify(bus, 5, REGISTRY))[0]
    assert best.profile == "other/lamp" and best.matched == 2


async def test_silent_unit_raises_timeout() -> None:
    bus, _ = bus_for(FakeUnit(silent=True))
    with pytest.raises(DeviceTimeout):
        await identify(bus, 5, REGISTRY)
