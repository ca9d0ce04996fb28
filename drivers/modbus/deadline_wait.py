"""A device poller's wait for its next deadline, cut short when the deadlines move (``set_period``,
a point polled again, the bus back)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class DeadlineWait:
    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._waiter: asyncio.Future[None] | None = None  # the real-clock wait in progress

    def wake(self) -> None:
        """End the wait in progress now, or the next one at once."""
        self._wake.set()
        if self._waiter is not None:
            _resolve(self._waiter)

    async def wait(self, seconds: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Sleep ``seconds``, or less if ``wake`` is called meanwhile (or was since the last wait)."""
        if self._wake.is_set():
            self._wake.clear()
            return
        if sleep is asyncio.sleep:
            # the real clock: one future and one timer, as asyncio.sleep (once per cycle per device; a
            # timeout around Event.wait cancelled the task and raised through it at every deadline)
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(seconds, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
            self._wake.clear()
            return
        sleeper = asyncio.ensure_future(sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            slept = sleeper.done()
            if not slept:
                sleeper.cancel()
        self._wake.clear()
        if slept:
            sleeper.result()  # a sleep that failed (or was cancelled) ends the loop
