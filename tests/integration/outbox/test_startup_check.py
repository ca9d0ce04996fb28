"""Start-up with a big backlog: the integrity check must not read the whole file at every start.

Today every open runs ``PRAGMA quick_check`` (the whole file) before the agent can say READY. Now: a
clean close leaves a marker and the next open skips the check; after an unclean stop (here a real
``kill -9`` of a process holding the outbox) a small file is checked before opening as before, a big
one in the background, and corruption found there is handled as at start (moved aside, alarm) while
the records this run committed meanwhile are kept. Time-to-READY itself is measured by
bench/bench_startup.py, not asserted here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.outbox import schema
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Reading

ROOT = Path(__file__).resolve().parents[3]

HOLDER = """
import asyncio, sys, time
from pathlib import Path
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading

async def main() -> None:
    outbox = await Outbox.open(Path(sys.argv[1]), OutboxConfig(), "gw-s")
    await outbox.accept([Reading("m1", "v", float(i), time.time()) for i in range(100)])
    print("ACCEPTED", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def _garble_lane_index(db: Path) -> None:
    """Damage the leaf pages of the alarm/event lane index: nothing a start or a telemetry accept
    reads, so only a full check (or a later alarm query) finds it."""
    conn = sqlite3.connect(db)
    try:
        root = int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'records_lane'").fetchone()[0])
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()
    data = bytearray(db.read_bytes())
    at = (root - 1) * size
    assert data[at] == 0x02, "the index must span several pages (an interior root)"
    cells = int.from_bytes(data[at + 3 : at + 5], "big")
    children = [int.from_bytes(data[at + 8 : at + 12], "big")]
    for i in range(cells):
        cell = at + int.from_bytes(data[at + 12 + 2 * i : at + 14 + 2 * i], "big")
        children.append(int.from_bytes(data[cell : cell + 4], "big"))
    for child in children:
        data[(child - 1) * size : (child - 1) * size + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))


def _readings(n: int) -> list[Reading]:
    return [Reading(f"m{i % 4}", "v", float(i), time.time()) for i in range(n)]


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    checked: list[Path] = []
    real = schema.check_integrity

    def counting(conn: Any) -> None:
        checked.append(Path(conn.execute("PRAGMA database_list").fetchone()[2]))
        real(conn)

    monkeypatch.setattr(schema, "check_integrity", counting)
    return checked


def _kill9_while_open(state: Path) -> None:
    """A real process opens the outbox, commits, and is killed with SIGKILL (no close, no marker)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state)], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ACCEPTED"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)


async def test_a_clean_close_skips_the_check_an_unclean_stop_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw-s")
    await outbox.accept(_readings(50))
    await outbox.close()
    checked = _count_checks(monkeypatch)

    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw-s")
    await outbox.close()
    assert checked == []  # closed cleanly and untouched since: no full read of the file

    await asyncio.to_thread(_kill9_while_open, tmp_path)
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw-s")
    try:
        assert checked == [tmp_path / "outbox.db"]  # a small file after a crash: checked before opening
        assert (await outbox.stats()).by_priority["telemetry"] == 150  # (+ a lost_in_ram gap event)
    finally:
        await outbox.close()


async def test_a_big_file_after_an_unclean_stop_is_checked_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.outbox import integrity

    monkeypatch.setattr(integrity, "SYNC_CHECK_MAX_BYTES", 0)  # every file counts as big here
    gate = threading.Event()
    real_run = integrity.BackgroundCheck._run

    def gated_run(self: integrity.BackgroundCheck) -> None:
        gate.wait(30)  # hold the check until this run has committed records to the damaged file
        real_run(self)

    monkeypatch.setattr(integrity.BackgroundCheck, "_run", gated_run)

    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw-s")
    old = await outbox.accept(_readings(1000) + [Event("m1", "tick", data={"n": i}) for i in range(5000)])
    await outbox.close()
    _garble_lane_index(tmp_path / "outbox.db")  # damaged while the agent was not running: the marker no longer fits

    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw-s")  # returns without reading the whole file
    try:
        new = await outbox.accept(_readings(10))
        gate.set()
        for _ in range(400):
            if any(n.startswith("outbox.db.corrupt-") for n in await asyncio.to_thread(os.listdir, tmp_path)):
                break
            await asyncio.sleep(0.05)
        moved = [n for n in os.listdir(tmp_path) if n.startswith("outbox.db.corrupt-") and "-wal" not in n]
        assert len([n for n in moved if not n.endswith("-shm")]) == 1  # moved aside, as at start
        for _ in range(100):  # the writer stores the alarm with the carried-over records
            if await outbox.fetch(10, priority=Priority.ALARM):
                break
            await asyncio.sleep(0.05)
        [alarm] = await outbox.fetch(10, priority=Priority.ALARM)
        assert alarm.body["kind"] == "outbox_corrupt" and "background check" in str(alarm.body["data"])
        telemetry = [r.seq for r in await outbox.fetch(10_000, priority=Priority.TELEMETRY)]
        assert telemetry == new  # this run's records were kept; the damaged file's are gone with it
        assert [e for e in await outbox.fetch(10, priority=Priority.EVENT) if e.body["kind"] == "tick"] == []
        assert alarm.seq > max(s for s in old if s is not None)
        more = await outbox.accept(_readings(1))
        assert more[0] is not None and more[0] > alarm.seq
    finally:
        await outbox.close()
