"""Deletes go in bounded chunks and waiting accepts commit ahead of them, so an accept never waits
behind a big delete; checkpoints run off the commit path on their own thread."""

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


async def test_a_big_delete_is_chunked_and_an_accept_goes_first(tmp_path: Path) -> None:
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
        # the accept committed alone right after the chunk in progress, ahead of the rest of the delete
        assert log == [(0, writer.DELETE_CHUNK), (3, 0), (0, writer.DELETE_CHUNK), (0, 10)]
        left = await outbox.fetch(10_000)
        assert [r.seq for r in left] == accept.result()  # only the new readings remain
    finally:
        await outbox.close()


def test_a_stream_of_accepts_does_not_starve_deletes() -> None:
    # the writer's queue logic alone (its thread is not started): accepts keep arriving, a delete waits
    commit_writer = writer.CommitWriter(None, 2000, lambda _seq: None)  # type: ignore[arg-type]
    deleted = commit_writer.delete(list(range(1, 3 * writer.DELETE_CHUNK + 1)))
    chunks = []
    for _ in range(3 * (writer.ACCEPT_ONLY_STREAK + 1)):
        commit_writer.accept([(2, 0, "m1", 1.0, "[]")])
        accepts, (parts, finished) = commit_writer._take()
        assert len(accepts) == 1  # every accept is taken at once
        chunks.append(sum(len(p) for p in parts))
    streak = [0] * writer.ACCEPT_ONLY_STREAK
    assert chunks == [*streak, writer.DELETE_CHUNK] * 3  # a chunk rides along after each streak
    assert finished == [deleted]  # the third chunk completed the request


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
