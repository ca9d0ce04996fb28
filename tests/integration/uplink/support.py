"""Helpers for uplink integration tests: decode upstream batches, check loss/order, run an uplink."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from agent.outbox.api import OutboxReader
from agent.outbox.config import OutboxConfig
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import BirthProvider, CommandHandler, Uplink
from tests.fixtures.mosquitto import Received


@dataclass(frozen=True)
class UpRecord:
    seq: int
    dev: str
    hist: bool
    item: dict[str, Any]


def decode_batch(payload: bytes) -> dict[str, Any]:
    raw = payload if payload[:1] == b"{" else zlib.decompress(payload)
    doc: dict[str, Any] = orjson.loads(raw)
    return doc


def upstream_records(messages: list[Received]) -> list[UpRecord]:
    """Every record in telemetry/events batches, in arrival order (duplicates kept)."""
    out = []
    for m in messages:
        if m.topic.endswith(("/telemetry", "/events")):
            doc = decode_batch(m.payload)
            out.extend(UpRecord(r["seq"], r["dev"], doc["hist"], r) for r in doc["records"])
    return out


def first_occurrences(records: list[UpRecord]) -> list[UpRecord]:
    seen: set[int] = set()
    out = []
    for r in records:
        if r.seq not in seen:
            seen.add(r.seq)
            out.append(r)
    return out


def order_violations(records: list[UpRecord]) -> list[str]:
    """Per (device, stream), seqs must rise in arrival order after dropping duplicates by seq."""
    last: dict[tuple[str, bool], int] = {}
    bad = []
    for r in first_occurrences(records):
        key = (r.dev, r.hist)
        if r.seq < last.get(key, 0):
            bad.append(f"{r.dev} hist={r.hist}: seq {r.seq} after {last[key]}")
        last[key] = r.seq
    return bad


@contextlib.asynccontextmanager
async def running_uplink(
    config: UplinkConfig,
    outbox: OutboxReader,
    outbox_config: OutboxConfig | None = None,
    gateway: str = "gw1",
    birth: BirthProvider | None = None,
    commands: CommandHandler | None = None,
) -> AsyncIterator[tuple[Uplink, asyncio.Task[None]]]:
    uplink = Uplink(config, outbox_config or OutboxConfig(), gateway, outbox, birth, commands)
    task = asyncio.create_task(uplink.run())
    try:
        yield uplink, task
    finally:
        if not task.done():  # a test that awaited the task itself already saw how it ended
            await uplink.stop()
            await asyncio.wait_for(task, 15)


async def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 -- polls counters owned by the code under test
            await asyncio.sleep(0.05)
