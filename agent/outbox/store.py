"""``Outbox``: the asyncio face of the SQLite outbox (implements OutboxWriter and OutboxReader).

Writes go to the single writer thread (group commit); reads go to one reader thread with its own
connection. Nothing here touches SQLite on the event loop thread.

Files in the state directory: ``outbox.db`` (+ ``-wal``, ``-shm``); ``seq.hwm`` (seq reservation that
outlives the database); ``outbox.reserve`` (space released when the disk runs full);
``outbox.db.corrupt-<UTC>`` (damaged files moved aside, kept for a post-mortem).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import RecordRejected
from agent.logs import log_event
from agent.outbox.api import OutboxStats, StoredRecord
from agent.outbox.codec import encode_many
from agent.outbox.config import OutboxConfig
from agent.outbox.engine import OutboxEngine
from agent.outbox.errors import OutboxClosed, OutboxWriterDied
from agent.outbox.integrity import BackgroundCheck, mark_clean
from agent.outbox.reader import OutboxReaderDb
from agent.outbox.writer import CommitWriter
from agent.records import Priority, Record

T = TypeVar("T")
log = logging.getLogger("agent.outbox")


class Outbox:
    def __init__(self, engine: OutboxEngine, loop: asyncio.AbstractEventLoop) -> None:
        self._engine = engine
        self._loop = loop
        self._committed = asyncio.Event()
        self._last_seq = engine.last_seq
        self._writer_died = asyncio.Event()
        self._writer = self._new_writer()
        self._reader = OutboxReaderDb(engine)
        self._read_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-read")
        self._reopening: asyncio.Future[None] | None = None
        self._check: BackgroundCheck | None = None
        self._closed = False

    @classmethod
    async def open(cls, state_dir: Path, config: OutboxConfig, gateway_id: str) -> Outbox:
        """Open (or create, recover) ``state_dir/outbox.db`` and start the writer thread."""
        engine = OutboxEngine(state_dir, config, gateway_id)
        await asyncio.to_thread(engine.open)
        outbox = cls(engine, asyncio.get_running_loop())
        outbox._writer.start()
        if engine.check_pending:  # an unclean stop left a big file: check it without holding READY back
            outbox._check = BackgroundCheck(engine.path, engine.generation, outbox._found_corrupt)
            outbox._check.start()
        return outbox

    async def close(self) -> None:
        """Commit what is queued, then close both connections."""
        if self._closed:
            return
        self._closed = True
        if self._reopening is not None:  # a restart cancelled midway still owns the engine until it ends
            await asyncio.wait([self._reopening])
        if self._check is not None:
            await asyncio.to_thread(self._check.stop)
        writer = self._writer
        await asyncio.to_thread(writer.stop)
        if writer.failure is not None:  # the dead thread never closed its connection
            await asyncio.to_thread(self._engine.close)
        await self._read(self._reader.close)
        self._read_pool.shutdown(wait=True)
        checked = self._check is None or self._check.passed
        if writer.closed_cleanly and self._engine.degraded is None and checked:
            await asyncio.to_thread(mark_clean, self._engine.path)  # the next start may skip the check

    async def __aenter__(self) -> Outbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- writer health (supervisor and watchdog) ----------------------------------------------

    def _new_writer(self) -> CommitWriter:
        died = asyncio.Event()
        self._writer_died = died

        def on_died() -> None:  # on the dying thread
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                self._loop.call_soon_threadsafe(died.set)

        return CommitWriter(self._engine, self._engine.config.commit_batch, self._notify_from_thread, on_died)

    async def keep_writing(self) -> None:
        """A supervised task: restart a dead writer thread, then wait. Raises ``OutboxWriterDied``
        when the thread dies, so the supervisor logs it and calls this again after its back-off.

        Restarting here rather than exiting keeps what the pipeline holds (its queue and the batch in
        hand are retried, not lost); the file itself is consistent (SQLite rolls back the dead
        connection's transaction). A writer that keeps dying withholds the systemd watchdog long
        enough for systemd to restart the whole process.
        """
        writer = self._writer
        if writer.failure is not None and not self._closed:
            self._reopening = asyncio.ensure_future(asyncio.to_thread(self._engine.reopen, repr(writer.failure)))
            try:
                await asyncio.shield(self._reopening)
            finally:
                self._reopening = None if self._reopening.done() else self._reopening
            if self._closed:
                return
            self._writer = writer = self._new_writer()
            writer.start()
            log_event(log, "outbox_writer_restarted", last_seq=self._engine.last_seq)
        await self._writer_died.wait()
        raise OutboxWriterDied(f"the outbox writer thread died: {writer.failure!r}")

    def _found_corrupt(self, reason: str, generation: int) -> None:
        """On the check's thread: the writer moves the file aside (unless it was replaced meanwhile)."""
        self._writer.call(lambda: self._engine.replace_found_corrupt(reason, generation))

    def health(self) -> str | None:
        """None while the outbox takes records; otherwise why not (the systemd watchdog is withheld)."""
        writer = self._writer
        if writer.failure is not None:
            return f"outbox writer died: {writer.failure!r}"
        waited = writer.oldest_wait()
        if waited > self._engine.config.accept_stall_s:
            return f"outbox writer stalled: a request has waited {waited:.0f} s"
        return None

    # ---- writer side --------------------------------------------------------------------------

    async def accept(self, records: Sequence[Record]) -> list[int | None]:
        """Commit ``records`` (group commit) and return their seqs once durable (None: refused by the
        reject-new policy, counted and reported upstream as a gap event)."""
        if not records:
            return []
        if self._closed:
            raise OutboxClosed("the outbox is closed")
        try:
            rows = encode_many(records)
        except TypeError as exc:  # orjson: a value that is not JSON (the pipeline let it through)
            raise RecordRejected(f"record cannot be stored: {exc}") from exc
        return await asyncio.wrap_future(self._writer.accept(rows))

    async def delete(self, seqs: Sequence[int]) -> None:
        """Forget acknowledged records. Unknown seqs are ignored."""
        if seqs:
            await asyncio.wrap_future(self._writer.delete(list(seqs)))

    async def purge(self, device: str | None = None, before: float | None = None) -> int:
        """Drop records of ``device`` and/or read before ``before``; a gap event (reason purged) says so."""
        count: int = await asyncio.wrap_future(self._writer.call(lambda: self._engine.purge(device, before)))
        return count

    # ---- reader side --------------------------------------------------------------------------

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._loop.run_in_executor(self._read_pool, fn, *args)

    async def fetch(
        self,
        limit: int,
        *,
        after_seq: int = 0,
        priority: Priority | None = None,
        accepted_since: float | None = None,
        accepted_before: float | None = None,
        max_body_bytes: int | None = None,
    ) -> list[StoredRecord]:
        """Records with ``seq > after_seq`` in seq order, optionally one lane and an accept-time window."""
        return await self._read(
            self._reader.fetch, limit, after_seq, priority, accepted_since, accepted_before, None, max_body_bytes
        )

    async def export(
        self,
        *,
        device: str | None = None,
        accepted_since: float | None = None,
        accepted_before: float | None = None,
        page: int = 1000,
    ) -> AsyncIterator[StoredRecord]:
        """Stream every record in seq order, one page at a time (never the whole table)."""
        after = 0
        while True:
            batch = await self._read(self._reader.fetch, page, after, None, accepted_since, accepted_before, device)
            if not batch:
                return
            for record in batch:
                yield record
            after = batch[-1].seq

    async def stats(self) -> OutboxStats:
        return await self._read(self._reader.stats)

    @property
    def last_seq(self) -> int:
        """The highest seq committed so far (as seen by the event loop)."""
        return self._last_seq

    async def wait_for_records(self, after_seq: int, timeout: float | None = None) -> bool:
        """Wait until a record with seq > after_seq exists (True) or the timeout passes (False)."""
        try:
            async with asyncio.timeout(timeout):
                while self._last_seq <= after_seq:
                    self._committed.clear()
                    await self._committed.wait()
        except TimeoutError:
            return False
        return True

    def _notify_from_thread(self, last_seq: int) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody is waiting
            self._loop.call_soon_threadsafe(self._on_commit, last_seq)

    def _on_commit(self, last_seq: int) -> None:
        if last_seq > self._last_seq:
            self._last_seq = last_seq
            self._committed.set()
