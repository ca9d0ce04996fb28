"""The Modbus driver's own lifetime: a driver without devices keeps its buses; learned ranges are saved in order."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.records import Record
from drivers.base import DriverContext
from drivers.modbus.config import ModbusDriverConfig
from drivers.modbus.driver import ModbusDriver
from drivers.modbus.planner import IllegalRanges
from drivers.modbus.profile import Table


class NullSink:
    async def put(self, record: Record) -> None:
        raise AssertionError(f"nothing is polled, got {record}")


def driver(tmp_path: Path, devices: list[dict[str, object]]) -> ModbusDriver:
    config = ModbusDriverConfig.model_validate(
        {
            "driver": "modbus",
            "name": "mb",
            "buses": [{"transport": "serial", "name": "rs1", "port": "/dev/null"}],
            "devices": devices,
        }
    )
    return ModbusDriver(config, DriverContext("gw", tmp_path, tmp_path, logging.getLogger("t")))


async def test_run_without_devices_waits_until_cancelled(tmp_path: Path) -> None:
    """Returning at once would make the host close the buses that probe/raw read still use."""
    task = asyncio.create_task(driver(tmp_path, []).run(NullSink()))
    done, _ = await asyncio.wait({task}, timeout=0.3)
    assert not done, "run() returned although the driver was not stopped"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def ranges(*spans: tuple[int, int]) -> IllegalRanges:
    illegal = IllegalRanges()
    for start, end in spans:
        illegal.add(Table.HOLDING, start, end)
    return illegal


async def test_overlapping_saves_are_serialised_and_the_newest_lands_last(tmp_path: Path) -> None:
    d = driver(tmp_path, [])
    poller = SimpleNamespace(illegal=ranges((10, 12)))
    d.pollers = {"meter": poller}  # type: ignore[dict-item]
    original = d._save_learned
    first_entered, release_first, newer_written = threading.Event(), threading.Event(), threading.Event()
    active, overlaps, calls = [0], [0], [0]
    lock = threading.Lock()

    def gated_save(snapshot: dict[str, dict[str, list[list[int]]]]) -> None:
        with lock:
            calls[0] += 1
            call = calls[0]
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
        if call == 1:
            first_entered.set()
            release_first.wait(10.0)  # the older snapshot's write is slow (a busy SD card)
        original(snapshot)
        with lock:
            active[0] -= 1
        if call > 1:
            newer_written.set()

    d._save_learned = gated_save  # type: ignore[method-assign]
    d._schedule_save()
    assert await asyncio.to_thread(first_entered.wait, 10.0)
    poller.illegal = ranges((10, 12), (20, 30))  # learned more while the first write is stuck
    d._schedule_save()
    d._schedule_save()
    # give a second writer the chance to run (it must not: one writer at a time)
    await asyncio.to_thread(newer_written.wait, 0.5)
    release_first.set()
    await d.close()
    saved = json.loads((tmp_path / "modbus" / "mb.illegal.json").read_text())
    assert {dev: {t: [row[:2] for row in rows] for t, rows in tables.items()} for dev, tables in saved.items()} == {
        "meter": {"holding": [[10, 12], [20, 30]]}
    }
    assert overlaps[0] == 1 and calls[0] == 2  # the two requests made while busy fold into one write
