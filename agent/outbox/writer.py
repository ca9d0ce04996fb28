"""The single writer thread: natural group commit over a queue of accepts and deletes.

When idle it commits what arrived at once; whatever arrives while a commit runs joins the next
one (bounded by ``commit_batch`` records), so a lone reading is never held back by a timer and a
burst shares one fsync. Futures complete only after their transaction committed. The writer
never waits to fill a batch, so ``commit_interval_ms`` (the longest a record may wait) always holds.

If the thread dies of an unexpected exception (a bug), every waiting and later request fails at once
with ``OutboxWriterDied`` instead of hanging, and ``on_died`` tells the event loop (the outbox
restarts the writer under the supervisor; the systemd watchdog is withheld meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeAlias

from agent.errors import EdgepostError, OutboxError
from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox.checkpointer import Checkpointer
from agent.outbox.codec import NewRow
from agent.outbox.engine import CommitResult, OutboxEngine
from agent.outbox.errors import OutboxClosed, OutboxWriterDied

log = logging.getLogger("agent.outbox")

_TICK_S = 0.5  # idle wake-up for housekeeping (expiry, degraded-mode retries)
# Acked seqs deleted per transaction: the uplink acks 10k at once, and accepts that arrive meanwhile
# wait for the transaction in progress; 1k rows keep that wait to a few milliseconds.
DELETE_CHUNK = 1000
# Waiting accepts commit alone, ahead of deletes; after this many such transactions in a row one
# delete chunk rides along, so a steady stream of accepts cannot starve the deletes.
ACCEPT_ONLY_STREAK = 4
_EXPECTED = (EdgepostError, sqlite3.Error, OSError, ValueError, TypeError)

# (rows or seqs, future, monotonic time it was queued)
_Accept: TypeAlias = tuple[list[NewRow], "Future[list[int | None]]", float]
_Delete: TypeAlias = tuple[Sequence[int], "Future[None]", float]
_DeleteChunk: TypeAlias = tuple[list[Sequence[int]], list["Future[None]"]]  # seq parts, requests completed


class CommitWriter:
    def __init__(
        self,
        engine: OutboxEngine,
        commit_batch: int,
        on_commit: Callable[[int], None],
        on_died: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._commit_batch = commit_batch
        self._on_commit = on_commit
        self._on_died = on_died
        self._cond = threading.Condition()
        self._accepts: deque[_Accept] = deque()
        self._deletes: deque[_Delete] = deque()
        self._delete_offset = 0  # seqs of the oldest delete request already deleted
        self._accept_only_streak = 0
        self._checkpointer = Checkpointer(engine)
        self._limiter = RateLimiter(60.0)
        self._calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._stopping = False
        self._closed = False  # the loop ended normally and closed the database
        self._busy_since: float | None = None  # queue time of the oldest request being worked on
        self._in_flight: list[Future[Any]] = []  # futures the current iteration took from the queues
        self.failure: BaseException | None = None  # why the thread died (None while it lives)
        self._thread = threading.Thread(target=self._run, name="outbox-writer", daemon=True)

    def start(self) -> None:
        self._checkpointer.start()
        self._thread.start()

    def accept(self, rows: list[NewRow]) -> Future[list[int | None]]:
        fut: Future[list[int | None]] = Future()
        self._enqueue(lambda: self._accepts.append((rows, fut, time.monotonic())), fut)
        return fut

    def delete(self, seqs: Sequence[int]) -> Future[None]:
        fut: Future[None] = Future()
        self._enqueue(lambda: self._deletes.append((seqs, fut, time.monotonic())), fut)
        return fut

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the writer thread (purge and other one-off writes)."""
        fut: Future[Any] = Future()
        self._enqueue(lambda: self._calls.append((fn, fut)), fut)
        return fut

    def _enqueue(self, push: Callable[[], None], fut: Future[Any]) -> None:
        with self._cond:
            if self.failure is not None:
                fut.set_exception(self._died_error())
                return
            if self._stopping:
                fut.set_exception(OutboxClosed("the outbox is closed"))
                return
            push()
            self._cond.notify()

    def stop(self, timeout: float | None = None) -> None:
        """Commit what is queued, then close the database."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    @property
    def closed_cleanly(self) -> bool:
        """The loop committed everything queued and closed the database (``stop`` returned normally)."""
        return self._closed

    def oldest_wait(self) -> float:
        """Seconds the oldest unfinished accept or delete has waited (0 when none waits)."""
        with self._cond:
            queued = [q[0][2] for q in (self._accepts, self._deletes) if q]
            if self._busy_since is not None:
                queued.append(self._busy_since)
        return time.monotonic() - min(queued) if queued else 0.0

    def _died_error(self) -> OutboxWriterDied:
        return OutboxWriterDied(f"the outbox writer thread died: {self.failure!r}")

    def _take(self) -> tuple[list[_Accept], _DeleteChunk]:
        accepts: list[_Accept] = []
        count = 0
        while self._accepts and (not accepts or count + len(self._accepts[0][0]) <= self._commit_batch):
            rows, fut, queued = self._accepts.popleft()
            if fut.set_running_or_notify_cancel():  # a cancelled accept is not stored
                accepts.append((rows, fut, queued))
                count += len(rows)
        if accepts and self._deletes and self._accept_only_streak < ACCEPT_ONLY_STREAK:
            self._accept_only_streak += 1
            return accepts, ([], [])
        self._accept_only_streak = 0
        return accepts, self._take_deletes()

    def _take_deletes(self) -> _DeleteChunk:
        """At most DELETE_CHUNK seqs, oldest requests first; a request's future completes with the
        transaction that deletes its last part."""
        parts: list[Sequence[int]] = []
        finished: list[Future[None]] = []
        room = DELETE_CHUNK
        while self._deletes and room > 0:
            seqs, fut, _ = self._deletes[0]
            if self._delete_offset == 0 and not fut.set_running_or_notify_cancel():
                self._deletes.popleft()  # cancelled before any part was deleted
                continue
            part = seqs[self._delete_offset : self._delete_offset + room]
            parts.append(part)
            room -= len(part)
            self._delete_offset += len(part)
            if self._delete_offset >= len(seqs):
                self._deletes.popleft()
                self._delete_offset = 0
                finished.append(fut)
        return parts, finished

    def _fail_started_delete(self, exc: BaseException) -> None:
        if self._delete_offset:
            with self._cond:
                _, fut, _ = self._deletes.popleft()
                self._delete_offset = 0
            fut.set_exception(exc)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self.failure is None and not self._closed:
                self._die(sys.exc_info()[1])

    def _loop(self) -> None:
        engine = self._engine
        more = False  # housekeeping has more bounded steps to go: do not sleep
        while True:
            with self._cond:
                if not (self._accepts or self._deletes or self._calls or self._stopping or more):
                    self._cond.wait(_TICK_S)
                accepts, deletes = self._take()
                calls, self._calls = self._calls, []
                done = self._stopping and not self._accepts and not self._deletes
                self._in_flight = [f for _, f, _ in accepts] + deletes[1] + [f for _, f in calls]
                waits = [t for _, _, t in accepts] + ([self._deletes[0][2]] if self._delete_offset else [])
                self._busy_since = min(waits) if waits else None
            for fn, call_fut in calls:
                if call_fut.set_running_or_notify_cancel():
                    self._run_call(fn, call_fut)
            if accepts or deletes[0] or deletes[1]:
                self._commit(accepts, deletes)
            with self._cond:  # answered: a housekeeping step is not their wait (those queued meanwhile count)
                self._in_flight, self._busy_since = [], None
            # one bounded eviction/expiry step (space.py): accepts queued meanwhile go first next round
            more = engine.housekeeping()
            if done:
                break
        engine.finish()
        self._checkpointer.stop()
        engine.close()
        self._closed = True
        log_event(log, "outbox_closed", last_seq=engine.last_seq)

    def _die(self, exc: BaseException | None) -> None:
        """The thread is ending on an exception: nobody may wait for it any more."""
        with self._cond:
            self.failure = exc or RuntimeError("the writer thread ended")
            waiting: list[Future[Any]] = [*self._in_flight, *(f for _, f, _ in self._accepts)]
            waiting += [f for _, f, _ in self._deletes] + [f for _, f in self._calls]
            self._accepts.clear()
            self._deletes.clear()
            self._calls.clear()
            self._delete_offset = 0
            self._in_flight, self._busy_since = [], None
        log_event(log, "outbox_writer_died", logging.ERROR, error=repr(self.failure), failed_requests=len(waiting))
        _fail(waiting, self._died_error())
        self._checkpointer.stop(timeout=5.0)
        self._on_died()

    def _commit(self, accepts: list[_Accept], deletes: _DeleteChunk) -> None:
        engine = self._engine
        parts, finished = deletes
        try:
            result = engine.commit([rows for rows, _, _ in accepts], parts)
        except _EXPECTED as exc:  # the engine handles disk failures; this is a bug: fail the callers, not hang them
            log_event(log, "outbox_commit_failed", logging.ERROR, error=repr(exc))
            error = exc if isinstance(exc, OutboxError) else OutboxError(f"outbox commit failed: {exc!r}")
            result = CommitResult([error for _ in accepts], [error for _ in parts])
        for (_, acc_fut, _), outcome in zip(accepts, result.accepts, strict=True):
            if isinstance(outcome, list):
                acc_fut.set_result(outcome)
            else:
                acc_fut.set_exception(outcome)
        failed = next((e for e in result.deletes if e is not None), None)
        if failed is not None:  # the rows are still there: the uplink must not count them as deleted
            log_limited(self._limiter, log, "delete", "outbox_delete_failed", logging.ERROR, error=str(failed))
            for del_fut in finished:
                del_fut.set_exception(failed)
            self._fail_started_delete(failed)
        else:
            for del_fut in finished:
                del_fut.set_result(None)
        self._on_commit(engine.last_seq)
        self._checkpointer.kick()

    @staticmethod
    def _run_call(fn: Callable[[], Any], fut: Future[Any]) -> None:
        try:
            fut.set_result(fn())
        except _EXPECTED as exc:
            fut.set_exception(exc)


def _fail(futures: Iterable[Future[Any]], error: BaseException) -> None:
    for fut in futures:
        with contextlib.suppress(InvalidStateError):  # already done or cancelled meanwhile
            fut.set_exception(error)
