"""Keeping a bus's port open (any protocol): a USB adapter that is not there yet, unplugged, or replugged.

``LinkKeeper`` owns the open/reopen of one transport. A failed open is retried with capped,
jittered exponential back-off (1 s doubling to 30 s by default); an open port is watched, and its
loss starts the retries again. Each state change is logged once and reported to the driver (which
turns it into a ``bus_state`` event); repeated failures in the same state say nothing more. While
the port is not open, requests fail at once instead of waiting for a timeout each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from agent.errors import TransportError
from agent.logs import log_event
from agent.records import JsonValue
from drivers.serialbus.backoff import Backoff
from drivers.serialbus.serial_link import PortMissing

log = logging.getLogger(__name__)


class LinkState(StrEnum):
    CLOSED = "closed"  # not opened yet, or closed by us
    OPEN = "open"
    PORT_MISSING = "port missing"  # the device file is not there
    OPEN_FAILED = "open failed"  # it is there but cannot be opened (busy, permissions), or no TCP peer
    LOST = "lost"  # it was open and went away

    @property
    def down(self) -> bool:
        return self in (LinkState.PORT_MISSING, LinkState.OPEN_FAILED, LinkState.LOST)


class LinkDown(TransportError):
    """A request on a bus whose port is not open (missing, lost, failing to open)."""


@dataclass(frozen=True)
class LinkChange:
    bus: str
    state: LinkState
    previous: LinkState
    reason: str
    port: str


OnChange = Callable[[LinkChange], Awaitable[None]]


class Connection(Protocol):
    """What a keeper opens and watches: a serial port, or one TCP connection of a bus."""

    async def connect(self) -> None: ...

    async def wait_lost(self) -> None: ...

    async def close(self) -> None: ...


class LinkKeeper:
    def __init__(
        self,
        bus: str,
        transport: Connection,
        port: str,
        reopen_min_s: float = 1.0,
        reopen_max_s: float = 30.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.transport = transport
        self.port = port
        self.state = LinkState.CLOSED
        self.reason = ""
        self.failed_opens = 0  # since the last successful open
        self.next_open_at: float | None = None  # wall clock, while waiting to retry
        self._backoff = Backoff(base_s=reopen_min_s, cap_s=max(reopen_max_s, reopen_min_s))
        self._retry = asyncio.Event()  # retry_now(): the wait before the next try ends early
        self._wall = wall
        self.changed_at = wall()
        self._unreported: list[LinkChange] = []

    @property
    def is_open(self) -> bool:
        return self.state is LinkState.OPEN

    def check(self) -> None:
        """Raise ``LinkDown`` when a request cannot go out (never before the first open attempt)."""
        if self.state.down:
            raise LinkDown(f"{self.bus}: {self.state}: {self.reason}")

    async def open(self) -> None:
        """One attempt; raises the transport's error when it fails (the state says which)."""
        try:
            await self.transport.connect()
        except PortMissing as exc:
            self._failed(LinkState.PORT_MISSING, str(exc))
            raise
        except TransportError as exc:
            self._failed(LinkState.OPEN_FAILED, str(exc))
            raise
        self.failed_opens = 0
        self.next_open_at = None
        self._backoff.succeeded()
        self._set(LinkState.OPEN, "")

    async def keep(self, on_change: OnChange) -> None:
        """Keep the port open until cancelled: reopen after failures and losses, report each change."""
        await self._report(on_change)
        while True:
            if self.is_open:
                await self.transport.wait_lost()
                self._set(LinkState.LOST, "connection lost (port unplugged or peer gone)")
                await self._report(on_change)
            delay = self._backoff.failed()
            self.next_open_at = self._wall() + delay
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._retry.wait()
            self._retry.clear()
            with contextlib.suppress(TransportError):  # the state says it: one log line per change, not per try
                await self.open()
            await self._report(on_change)

    def retry_now(self) -> None:
        """Try again at once, with the back-off started afresh (someone just plugged something in)."""
        if self.state.down:
            self._backoff.succeeded()
            self._retry.set()

    def closed(self) -> None:
        """We closed the port ourselves: not a fault to log or report."""
        self.state, self.reason, self.next_open_at = LinkState.CLOSED, "", None

    def status(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"state": str(self.state), "port": self.port, "state_changed_at": self.changed_at}
        if self.state.down:
            out.update(reason=self.reason, failed_opens=self.failed_opens, next_open_at=self.next_open_at)
        return out

    def _failed(self, state: LinkState, reason: str) -> None:
        self.failed_opens += 1
        self._set(state, reason)

    def _set(self, state: LinkState, reason: str) -> None:
        if state is self.state:
            self.reason = reason
            return
        change = LinkChange(self.bus, state, self.state, reason, self.port)
        self.state, self.reason, self.changed_at = state, reason, self._wall()
        level = logging.WARNING if state.down else logging.INFO
        details = {"reason": reason} if reason else {}
        log_event(log, "bus_state", level, bus=self.bus, port=self.port, state=str(state),
                  previous=str(change.previous), **details)
        self._unreported.append(change)

    async def _report(self, on_change: OnChange) -> None:
        """Hand the changes since the last report to ``on_change`` (a change made in ``open()`` before
        the driver ran, such as a port missing at start, is reported once ``keep`` starts)."""
        while self._unreported:
            await on_change(self._unreported.pop(0))
