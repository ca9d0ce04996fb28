"""A corrupt outbox file is moved aside with a timestamp, a fresh one starts, an alarm says so."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Priority, Reading


def _readings(n: int) -> list[Reading]:
    return [Reading(f"m{i % 4}", "v", float(i), time.time()) for i in range(n)]


def _garble_header(db: Path) -> None:
    db.write_bytes(b"this is not an sqlite file" * 400)


def _garble_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page = 4096
    for n in range(3, min(40, len(data) // page)):  # b-tree pages in the middle, header intact
        data[n * page : n * page + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("garble", [_garble_header, _garble_pages], ids=["header", "pages"])
async def test_corrupt_file_moved_aside_fresh_outbox_alarm(tmp_path: Path, garble: object) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw-c")
    old = await outbox.accept(_readings(3000))
    await outbox.close()
    db = tmp_path / "outbox.db"
    garble(db)  # type: ignore[operator]
    original = db.read_bytes()

    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw-c")
    try:
        names = await asyncio.to_thread(os.listdir, tmp_path)
        moved_names = [n for n in names if n.startswith("outbox.db.corrupt-") and not n.endswith(("-wal", "-shm"))]
        [moved] = [tmp_path / n for n in moved_names]
        assert moved.read_bytes() == original  # kept for a post-mortem, not deleted
        [alarm] = await outbox.fetch(10, priority=Priority.ALARM)
        assert alarm.body["kind"] == "outbox_corrupt" and alarm.device == "gw-c"
        assert alarm.body["data"]["moved_to"] == str(moved)  # type: ignore[index]
        assert alarm.seq > max(old)
        new = await outbox.accept(_readings(10))
        assert new[0] > alarm.seq
        stats = await outbox.stats()
        assert stats.records == 11 and stats.degraded is None
    finally:
        await outbox.close()
