"""A third-party driver plugin for daemon tests, registered through a generated ``.dist-info``.

``write_point`` on point ``bug`` raises a plain ``ValueError`` (a driver bug); on point ``slow`` it
waits until the test opens a gate file, so a test can act while the command runs. Every completed
write is appended to ``writes.log`` in ``files``, so a test counts executions across restarts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from agent.records import PointValue
from drivers.base import DeviceInfo, Driver, DriverConfigBase, RecordSink

ENTRY_POINT = "gate = tests.integration.agent.gate_driver:GateDriver"


class GateConfig(DriverConfigBase):
    driver: Literal["gate"]
    devices: list[str]
    files: Path


class GateDriver(Driver[GateConfig]):
    config_model = GateConfig

    async def open(self) -> None:
        self.config.files.mkdir(parents=True, exist_ok=True)

    async def run(self, sink: RecordSink) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None

    def inventory(self) -> list[DeviceInfo]:
        return [DeviceInfo(name=d, driver="gate", state="online") for d in self.config.devices]

    async def write_point(self, device: str, point: str, value: PointValue, verify: bool = False) -> None:
        files = self.config.files
        if point == "bug":
            raise ValueError("could not convert string to float: 'x'")
        if point == "slow":
            (files / "gate-entered").touch()
            while not (files / "gate-open").exists():  # noqa: ASYNC110 -- the gate is a file another process makes
                await asyncio.sleep(0.05)
        with (files / "writes.log").open("a") as log:
            log.write(f"{device}.{point}={value}\n")


def install(site: Path) -> Path:
    """Write the ``.dist-info`` that registers this driver into ``site`` (put it on PYTHONPATH)."""
    info = site / "edgepost_gate_driver-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: edgepost-gate-driver\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[edgepost.drivers]\n{ENTRY_POINT}\n")
    return site
