"""What an injector gets: the pole, a seeded random source, the command ledger, and the lock that keeps
two faults from stopping/starting the agent at once. ``Skip`` says why a fault cannot run here."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rig.errors import RigError
from rig.pole.pole import Pole


class Skip(RigError):
    """The fault needs something this pole does not have (a simulator, a local broker, root)."""


@dataclass
class Outcome:
    detail: str = ""
    problems: list[str] = field(default_factory=list)  # how the agent reacted wrongly


@dataclass
class SentCommand:
    id: str | None
    t: float
    expect_ok: bool | None  # None: any answer will do


@dataclass
class FaultContext:
    pole: Pole
    rng: random.Random
    sent: list[SentCommand] = field(default_factory=list)
    agent_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def need_local_broker(self) -> None:
        if self.pole.broker is None or self.pole.proxy is None:
            raise Skip("needs the rig's own broker (this pole uses an external one)")

    def need_simulated(self, device: str) -> None:
        if device not in self.pole.devices:
            raise Skip(f"{device} is real hardware, not simulated")


async def hold(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def wait_for(predicate: Callable[[], bool | Awaitable[bool]], timeout_s: float, step_s: float = 0.1) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passed; returns whether it came true."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step_s)
