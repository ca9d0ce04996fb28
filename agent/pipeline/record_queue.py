"""A bounded FIFO between the drivers (many producers, one record at a time) and the pipeline's writer
(one consumer, whole batches).

``asyncio.Queue`` costs a few Python calls per item on each side (``full``/``qsize``/``_put`` on the
way in, ``get_nowait`` per item on the way out); at the rates a pipeline must take that was a third
of its CPU. Here a put that finds room is an append, and the consumer takes up to a batch at once.
Back-pressure is the same: a put into a full queue waits for room, in FIFO order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class RecordQueue(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()
        self._unfinished = 0
        self._finished = asyncio.Event()
        self._finished.set()

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    async def put(self, item: T) -> None:
        """Append ``item``; while the queue is full, wait for room (first come, first served)."""
        while len(self._items) >= self.maxsize or self._putters:
            waiter = asyncio.get_running_loop().create_future()
            self._putters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:  # the only way out of a waiter nobody resolved
                waiter.cancel()
                if waiter in self._putters:
                    self._putters.remove(waiter)
                elif len(self._items) < self.maxsize:
                    self._wake_putter()  # the room we were woken for goes to the next one
                raise
            if len(self._items) < self.maxsize:
                break
        self._items.append(item)
        self._unfinished += 1
        self._finished.clear()
        self._wake_getter()

    def try_put(self, item: T) -> bool:
        """Append ``item`` if there is room and nobody waits for it (no coroutine: the hot path)."""
        if len(self._items) >= self.maxsize or self._putters:
            return False
        self._items.append(item)
        self._unfinished += 1
        self._finished.clear()
        self._wake_getter()
        return True

    async def get_batch(self, limit: int) -> list[T]:
        """Up to ``limit`` items, waiting until there is at least one."""
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._getter = waiter
            try:
                await waiter
            finally:
                self._getter = None
        return self.get_nowait_batch(limit)

    def get_nowait_batch(self, limit: int) -> list[T]:
        """Up to ``limit`` items that are there now (maybe none)."""
        items = self._items
        count = min(limit, len(items))
        if count == len(items):
            batch = list(items)
            items.clear()
        else:
            batch = list(itertools.islice(items, count))
            for _ in range(count):
                items.popleft()
        for _ in range(min(count, len(self._putters))):
            self._wake_putter()
        return batch

    def task_done(self, count: int = 1) -> None:
        if count > self._unfinished:
            raise ValueError("task_done() called more times than there were items")
        self._unfinished -= count
        if not self._unfinished:
            self._finished.set()

    async def join(self) -> None:
        """Until every item put has been marked done."""
        await self._finished.wait()

    def _wake_getter(self) -> None:
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    def _wake_putter(self) -> None:
        while self._putters:
            putter = self._putters.popleft()
            if not putter.done():
                putter.set_result(None)
                return
