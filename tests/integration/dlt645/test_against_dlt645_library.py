"""The ``dlt645`` package from PyPI (3.2.0, a dev-only pin) as an independent peer.

Its meter server, on a socat pty (RTU) and on a loopback TCP port, answers our line master; its
client reads our simulated meter. Two implementations written apart agree on frames, addresses,
the +0x33 offset, checksums, BCD scaling and signs, and abnormal replies.

The library's own address convention: ``set_address("...")`` takes the six bytes in wire order
(A0 first), not the nameplate number; we hand it ``MeterAddress.wire``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from dlt645 import MeterServerService
from dlt645.service.clientsvc.client_service import MeterClientService

from agent.records import Quality
from drivers.base import DriverContext
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.bcd import DataFormat
from drivers.dlt645.codes import ErrorKind
from drivers.dlt645.config import Dlt645DriverConfig
from drivers.dlt645.di import DataId
from drivers.dlt645.driver import Dlt645Driver
from drivers.dlt645.errors import AbnormalReply
from drivers.dlt645.master import LineMaster
from drivers.dlt645.requests import read_address, read_data
from drivers.serialbus.serial_link import SerialLink
from tests.fixtures.serial import socat_pty_pair
from tests.integration.dlt645.helpers import PROFILES, meter, simulated_line
from tests.integration.modbus.helpers import CollectingSink

pytestmark = pytest.mark.hardware

METER = MeterAddress.parse("000012345678")
# (DI, format, signed, value the library serves): the brief's items
ITEMS = [
    ("00 01 00 00", "XXXXXX.XX", False, 12345.67),
    ("02 01 01 00", "XXX.X", False, 231.4),
    ("02 02 01 00", "XXX.XXX", True, -2.345),
    ("02 03 00 00", "XX.XXXX", True, -0.5432),
    ("02 06 00 00", "X.XXX", True, 0.985),
    ("02 80 00 02", "XX.XX", False, 49.98),
]


def _serve_items(service: MeterServerService) -> None:
    service.set_address(METER.wire)
    for di, _, _, value in ITEMS:
        setter = service.set_00 if di.startswith("00") else service.set_02
        assert setter(DataId.parse(di).value, value), di


@contextmanager
def library_server(kind: str) -> Iterator[str]:
    """The library's meter server; yields the URL our serial link opens."""
    if kind == "rtu":
        with socat_pty_pair() as (ours, theirs):
            service = MeterServerService.new_rtu_server(theirs, 8, 1, 2400, "N", 1.0)
            _serve_items(service)
            assert service.start()
            try:
                yield ours
            finally:
                service.stop()
    else:
        service = MeterServerService.new_tcp_server("127.0.0.1", 0, 2.0)
        _serve_items(service)
        assert service.start()
        try:
            yield f"socket://127.0.0.1:{service.server.port}"
        finally:
            service.stop()


@pytest.mark.parametrize("kind", ["rtu", "tcp"])
async def test_our_master_reads_the_librarys_meter(kind: str) -> None:
    with library_server(kind) as url:
        async with SerialLink(url, 2400, 8, "N", 1) as link:
            master = LineMaster(f"library-{kind}", link, 11 / 2400 if kind == "rtu" else 0.0)
            for di, fmt, signed, value in ITEMS:
                tx = read_data(METER, DataId.parse(di), DataFormat.parse(fmt), signed, timeout_s=3.0)
                assert await master.request(tx) == value, di
            assert await master.request(read_address(timeout_s=3.0)) == METER
            with pytest.raises(AbnormalReply) as caught:
                await master.request(read_data(METER, DataId.parse("02 99 00 00"), DataFormat.parse("XX.XX")))
            assert caught.value.kinds == (ErrorKind.NO_DATA,)
            assert all(c.mismatched == c.checksum_errors == 0 for c in master.counters.senders.values())


def test_the_librarys_client_reads_our_simulated_meter() -> None:
    served = {"voltage_a": 229.8, "current_a": -3.21, "active_power": -0.7068, "power_factor": 0.962,
              "frequency": 50.02, "import_energy": 4321.09}
    simulated = meter(METER.digits, "chint/dtsu666-dlt645", served)
    with simulated_line([simulated]) as (port, _):
        client = MeterClientService.new_rtu_client(port, 2400, 8, 1, "N", 2.0)
        try:
            found = client.read_address()
            assert found is not None and bytes(client.address) == METER.wire
            points = PROFILES.get("chint/dtsu666-dlt645").points
            for name, value in served.items():
                item = client.read_02(points[name].data_id.value)  # read_02 decodes by the DI's category
                assert item is not None and item.value == value, name
            assert client.read_02(0x02990000) is None  # our abnormal reply: the library's "no value"
        finally:
            client.disconnect()



async def test_the_driver_polls_the_librarys_meter(tmp_path: Path) -> None:
    """The whole driver (config, shared line, poller, sink) against the library's RTU server."""
    points = {"import_energy": 12345.67, "voltage_a": 231.4, "current_a": -2.345, "active_power": -0.5432,
              "power_factor": 0.985, "frequency": 49.98}
    with library_server("rtu") as port:
        cfg = Dlt645DriverConfig.model_validate({
            "driver": "dlt645", "name": "library",
            "buses": [{"name": "rs1", "port": port, "parity": "N", "timeout_s": 3.0}],
            "devices": [{"name": "peer", "bus": "rs1", "address": METER.digits, "profile": "chint/dtsu666-dlt645",
                         "points": {n: {"period": 0.5} for n in points}}],
        })
        context = DriverContext("gw", tmp_path, tmp_path, logging.getLogger("test"))
        sink = CollectingSink()
        async with Dlt645Driver(cfg, context) as driver:
            task = asyncio.create_task(driver.run(sink))
            try:
                await sink.wait_for(lambda: {r.point for r in sink.readings("peer")} >= set(points), 90)
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            status: Any = driver.status()
    assert {(r.point, r.value) for r in sink.readings("peer")} <= set(points.items())
    assert {r.quality for r in sink.readings("peer")} == {Quality.GOOD}
    assert status["devices"]["peer"]["line"]["checksum_errors"] == status["devices"]["peer"]["line"]["mismatched"] == 0
