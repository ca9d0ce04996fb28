"""The Modbus driver against pymodbus' own TCP server on a free loopback port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from agent.errors import WriteRejected
from agent.records import Quality
from drivers.modbus.profile import Access, DataType, Point, Profile, Table
from tests.integration.modbus.helpers import free_port, registry_of, running_driver

pytestmark = pytest.mark.network

PROFILE = Profile(
    id="test/plc",
    vendor="test",
    model="plc",
    source="test",
    points={
        "voltage": Point(table=Table.HOLDING, address=0, scale=0.1, unit="V"),
        "offset": Point(table=Table.HOLDING, address=1, type=DataType.INT16),
        "level": Point(table=Table.HOLDING, address=2, type=DataType.FLOAT32, unit="m"),
        "setpoint": Point(table=Table.HOLDING, address=10, access=Access.RW, min=0, max=1000),
        "mode": Point(table=Table.HOLDING, address=11, access=Access.RW, enum={0: "auto", 6: "manual"}),
        "pressure": Point(table=Table.INPUT, address=1, scale=0.01, unit="bar"),
    },
)


@pytest.fixture
async def plc_port() -> AsyncIterator[int]:
    port = free_port()
    holding = [
        SimData(0, values=[2301, 0xFFFE, 0x4148, 0x0000], datatype=SimType.REGISTERS),  # 4..9 undefined
        SimData(10, values=[5, 6], datatype=SimType.REGISTERS),
    ]
    inputs = [SimData(0, values=[0, 153, 0, 0], datatype=SimType.REGISTERS)]
    bits = [SimData(0, count=8, values=False, datatype=SimType.BITS)]
    device = SimDevice(id=1, simdata=(bits, list(bits), holding, inputs))
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        yield port
    finally:
        await server.shutdown()


def config(port: int, period: float = 0.2) -> dict[str, object]:
    return {
        "buses": [{"transport": "tcp", "name": "plc", "host": "127.0.0.1", "port": port, "timeout_s": 1.0}],
        "devices": [{"name": "plc1", "bus": "plc", "unit_id": 1, "profile": "test/plc", "period_s": period}],
    }


async def test_polls_decodes_learns_the_hole_and_persists_it(plc_port: int, tmp_path: Path) -> None:
    async with running_driver(config(plc_port), tmp_path, registry_of(PROFILE)) as (driver, sink):
        await sink.wait_for(lambda: len({r.point for r in sink.readings()}) == 6)
        await sink.wait_for(lambda: len(sink.readings()) >= 18)  # three cycles
        latest = {r.point: r for r in sink.readings()}
        assert latest["voltage"].value == 230.1 and latest["voltage"].unit == "V"
        assert latest["offset"].value == -2
        assert latest["level"].value == pytest.approx(12.5)
        assert latest["setpoint"].value == 5 and latest["mode"].value == "manual"
        assert latest["pressure"].value == 1.53
        assert all(r.quality is Quality.GOOD for r in sink.readings())
        assert [e.data["state"] for e in sink.events("plc1")] == ["online"]
        poller = driver.pollers["plc1"]
        # 0..4 and 10..12 merge into one read across the undefined 4..9 -> refused -> split, learned
        assert poller.illegal.overlaps(Table.HOLDING, 4, 10)
        status = driver.status()
        assert status["devices"]["plc1"]["state"] == "online"  # type: ignore[index,call-overload]
        assert status["buses"]["plc"]["requests"] > 0  # type: ignore[index,call-overload,operator]
    saved = json.loads((tmp_path / "modbus" / "mb.illegal.json").read_text())
    assert [row[:2] for row in saved["plc1"]["holding"]] == [[4, 10]]


async def test_write_with_read_back_and_rejections(plc_port: int, tmp_path: Path) -> None:
    async with running_driver(config(plc_port, period=5.0), tmp_path, registry_of(PROFILE)) as (driver, _):
        await driver.write_point("plc1", "setpoint", 420, verify=True)
        assert (await driver.read_point("plc1", "setpoint")).value == 420
        await driver.write_point("plc1", "mode", "auto", verify=True)
        assert (await driver.read_point("plc1", "mode")).value == "auto"
        for point, value in [("setpoint", 1001), ("voltage", 1), ("mode", "eco"), ("nope", 1)]:
            with pytest.raises(WriteRejected):
                await driver.write_point("plc1", point, value)
        # nothing reached the device: the registers still hold the accepted writes
        assert await driver.raw_read("plc", 1, Table.HOLDING, 0, 1) == [2301]
        assert await driver.raw_read("plc", 1, Table.HOLDING, 10, 2) == [420, 0]
        await driver.raw_write("plc", 1, Table.HOLDING, 11, [6])
        assert await driver.raw_read("plc", 1, Table.HOLDING, 11, 1) == [6]
