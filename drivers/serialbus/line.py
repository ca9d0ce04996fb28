"""One physical RS-485 line shared by every protocol on it: one port, one keeper, one request queue.

Modbus RTU and DL/T 645 devices often sit on one line (a meter cabinet). Whatever protocol a
request speaks, it waits for the line's turn (``turn``): FIFO, one transaction on the wire at a
time, so there is one master and never two frames on the wire. Each protocol's master keeps its own
rules for what is a reply and how long a silent device keeps the line suspect; when the line passes
from one master to another, the previous one hands it over clean (``LineUser.hand_over``): its
broadcast hold and its suspect window waited out, what was heard counted on its senders, the input
flushed. A late Modbus reply therefore never lands in a DL/T 645 request's wait nor collides with
its answer, and the other way round.

One ``LinkKeeper`` opens and reopens the port; every bus on the line (of any driver) hears its state
changes under its own name (``keep``). The last holder to ``release`` the line closes the port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from agent.records import JsonValue
from drivers.serialbus.link import LinkChange, LinkKeeper, LinkState, OnChange
from drivers.serialbus.serial_link import SerialLink


class LineUser(Protocol):
    """A protocol's master on the line (``RtuTransport``, the DL/T 645 ``LineMaster``)."""

    def opened(self) -> None:
        """The port was (re)opened: bytes held from the old connection belong to nobody."""

    async def hand_over(self) -> None:
        """Leave the line clean for another protocol's master (see the module doc)."""


@dataclass(frozen=True)
class LineSettings:
    """The port and its character framing: every device on one line shares them."""

    port: str
    baudrate: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1

    @property
    def framing(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


class _Port:
    """The keeper's view of the port: opening it tells every master on the line."""

    def __init__(self, line: SharedLine) -> None:
        self._line = line

    async def connect(self) -> None:
        await self._line.link.open()
        for user in self._line.users:
            user.opened()

    async def wait_lost(self) -> None:
        await self._line.link.wait_lost()

    async def close(self) -> None:
        self._line.link.close()


class SharedLine:
    def __init__(
        self,
        name: str,
        settings: LineSettings,
        reopen_min_s: float = 1.0,
        reopen_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name  # the first bus's name, for the keeper's log lines
        self.settings = settings
        s = settings
        self.link = SerialLink(s.port, s.baudrate, s.bytesize, s.parity, s.stopbits)
        self.keeper = LinkKeeper(name, _Port(self), s.port, reopen_min_s, reopen_max_s)
        self.users: list[LineUser] = []
        self.holders = 0  # buses holding the line (``lines.acquire_line``); the last release closes it
        self.on_released: Callable[[], None] | None = None
        self.in_flight = 0  # never above 1
        self.max_in_flight = 0
        self.turns = 0
        self.hand_overs = 0  # turns that passed the line from one master to another
        self.busy_s = 0.0
        self._clock = clock
        self._lock = asyncio.Lock()  # FIFO: waiters are served in arrival order
        self._last: LineUser | None = None
        self._listeners: dict[object, tuple[str, OnChange]] = {}
        self._keeper_stopped: asyncio.Event | None = None  # set when the task running the keeper ends
        self._loads: dict[object, Callable[[], float]] = {}

    def attach(self, user: LineUser) -> None:
        self.users.append(user)

    def detach(self, user: LineUser) -> None:
        if user in self.users:
            self.users.remove(user)
        if self._last is user:
            self._last = None

    def report_load(self, key: object, load: Callable[[], float] | None) -> None:
        """``load()``: the fraction of the line's time ``key``'s polls take (None: it polls no more)."""
        if load is None:
            self._loads.pop(key, None)
        else:
            self._loads[key] = load

    def load_besides(self, key: object) -> float:
        """What every other bus (of any protocol) on the line polls, as a fraction of its time."""
        return sum(load() for other, load in self._loads.items() if other is not key)

    @asynccontextmanager
    async def turn(self, user: LineUser | None) -> AsyncIterator[None]:
        """Hold the line for one transaction (with its retries) of ``user``'s protocol."""
        async with self._lock:
            self.keeper.check()
            previous = self._last
            if previous is not None and previous is not user:
                self.hand_overs += 1
                await previous.hand_over()
            self._last = user
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.turns += 1
            started = self._clock()
            try:
                yield
            finally:
                self.in_flight -= 1
                self.busy_s += self._clock() - started

    async def open(self) -> None:
        """One attempt when the port is not open yet (a second bus on an open line: nothing to do)."""
        if not self.keeper.is_open:
            await self.keeper.open()

    def release(self) -> None:
        """One holder is done; the last one closes the port."""
        self.holders -= 1
        if self.holders > 0:
            return
        self.link.close()
        self.keeper.closed()
        if self.on_released is not None:
            self.on_released()

    async def keep(self, bus: str, on_change: OnChange) -> None:
        """Keep the port open until cancelled, telling ``on_change`` every change as bus ``bus``.
        One caller runs the keeper; when its task ends, a remaining one takes over."""
        token = object()
        self._listeners[token] = (bus, on_change)
        try:
            if self._keeper_stopped is not None and self.keeper.state.down:  # reported before this bus joined
                keeper = self.keeper
                await on_change(LinkChange(bus, keeper.state, LinkState.CLOSED, keeper.reason, keeper.port))
            while True:
                stopped = self._keeper_stopped
                if stopped is not None:
                    await stopped.wait()
                    continue
                stopped = self._keeper_stopped = asyncio.Event()
                try:
                    await self.keeper.keep(self._tell)
                finally:
                    self._keeper_stopped = None
                    stopped.set()
        finally:
            del self._listeners[token]

    async def _tell(self, change: LinkChange) -> None:
        for bus, on_change in list(self._listeners.values()):
            await on_change(replace(change, bus=bus))

    def status(self) -> dict[str, JsonValue]:
        return {"turns": self.turns, "hand_overs": self.hand_overs, "max_in_flight": self.max_in_flight,
                "holders": self.holders, "framing": self.settings.framing}
