"""Deletes go in bounded chunks so an accept never waits behind a big delete; checkpoints run off
the commit path on their own thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from agent.outbox import writer
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading


def _readings(n: int) -> list[Reading]:
    return [Reading("m1", "v", float(i), time.time()) for i in range(n)]


async def test_a_big_delete_is_chunked_and_accepts_go_between(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    try:
        seqs = await outbox.accept(_readings(2 * writer.DELETE_CHUNK + 10))
        engine = outbox._engine
        real_commit = engine.commit
        gate = threading.Event()
        log: list[tuple[int, int]] = []  # (records accepted, seqs deleted) per transaction

        def commit(accepts: Any, deletes: Any) -> Any:
            gate.wait(30)
            log.append((sum(len(a) for a in accepts), sum(len(d) for d in deletes)))
            return real_commit(accepts, deletes)

        engine.commit = commit  # type: ignore[method-assign]
        delete = asyncio.create_task(outbox.delete(seqs))
        await asyncio.sleep(0.05)  # the writer holds the first chunk at the gate
        accept = asyncio.create_task(outbox.accept(_readings(3)))
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(accept, delete)
        # the accept went with the second chunk, not after the whole delete
        assert log == [(0, writer.DELETE_CHUNK), (3, writer.DELETE_CHUNK), (0, 10)]
        left = await outbox.fetch(10_000)
        assert [r.seq for r in left] == accept.result()  # only the new readings remain
    finally:
        await outbox.close()


async def test_wal_is_checkpointed_by_the_background_thread(tmp_path: Path) -> None:
    outbox = await Outbox.open(tmp_path, OutboxConfig(), "gw1")
    try:
        checkpointer = outbox._writer._checkpointer
        await outbox.accept(_readings(500))
        for _ in range(500):  # wait (bounded) for the thread, which runs shortly after the commit
            if checkpointer.checkpoints:
                break
            await asyncio.sleep(0.01)
        assert checkpointer.checkpoints >= 1
        # the records reached the database file itself (a copy without the WAL holds them)
        (tmp_path / "copy.db").write_bytes((tmp_path / "outbox.db").read_bytes())
        conn = sqlite3.connect(tmp_path / "copy.db")
        try:
            assert conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 500
        finally:
            conn.close()
    finally:
        await outbox.close()
    assert not checkpointer._thread.is_alive()  # stopped with the outbox
