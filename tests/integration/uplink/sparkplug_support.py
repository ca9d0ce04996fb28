"""Helpers for Sparkplug integration tests: run a Sparkplug uplink, decode what the collector saw."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from agent.outbox.api import OutboxReader
from agent.outbox.config import OutboxConfig
from agent.uplink.config import UplinkConfig
from agent.uplink.sparkplug.catalog import DeviceDecl
from agent.uplink.sparkplug.commands import CommandHandler
from agent.uplink.uplink import Uplink
from tests.fixtures.mosquitto import Received
from tests.fixtures.sparkplug_decode import decode

GROUP = "poles"
NODE = "gw1"


@dataclass(frozen=True)
class Spb:
    verb: str
    device: str | None
    doc: dict[str, Any]
    qos: int
    retain: bool


def decode_all(messages: list[Received]) -> list[Spb]:
    """Every spBv1.0 message the node sent, in arrival order; data values typed from the births seen."""
    datatypes: dict[int, int] = {}
    out = []
    for m in messages:
        parts = m.topic.split("/")
        if parts[0] != "spBv1.0" or parts[1] == "STATE" or parts[3] != NODE or parts[2] in ("NCMD", "DCMD"):
            continue
        doc = decode(m.payload, datatypes)
        if parts[2] in ("NBIRTH", "DBIRTH"):
            for metric in doc["metrics"]:
                if "alias" in metric:
                    datatypes[metric["alias"]] = metric["datatype"]
        out.append(Spb(parts[2], parts[4] if len(parts) > 4 else None, doc, m.qos, m.retain))
    return out


def data_seqs(messages: list[Spb]) -> list[int]:
    """The outbox seq of every data metric (property ``seq``), in arrival order, duplicates kept."""
    return [metric["properties"]["seq"]["value"] for m in messages if m.verb in ("DDATA", "NDATA")
            for metric in m.doc["metrics"]]


@contextlib.asynccontextmanager
async def running_sparkplug(
    config: UplinkConfig,
    outbox: OutboxReader,
    devices: Callable[[], list[DeviceDecl]],
    outbox_config: OutboxConfig | None = None,
    commands: CommandHandler | None = None,
) -> AsyncIterator[Uplink]:
    uplink = Uplink(
        config, outbox_config or OutboxConfig(), NODE, outbox, command_answerer=commands, devices_provider=devices
    )
    task = asyncio.create_task(uplink.run())
    try:
        yield uplink
    finally:
        if not task.done():
            await uplink.stop()
        await asyncio.wait_for(task, 15)
