"""The care engine with its state file: what the pipeline calls.

Saves the state before any raise or clear leaves (so the file is never behind the alarm journal on a
transition), and every ``save_every_s`` while readings move it; ``close`` saves a last time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from agent.logs import RateLimiter, log_limited
from agent.pipeline.alarms import AlarmKey
from agent.pipeline.care.engine import CareEngine
from agent.pipeline.care.state import STATE_FILE, CareStateFile
from agent.records import Event, Reading
from agent.rules import CareRule

log = logging.getLogger(__name__)


class CareKeeper:
    def __init__(self, engine: CareEngine, state: CareStateFile, save_every_s: float = 60.0) -> None:
        self.engine = engine
        self._state = state
        self.save_every_s = save_every_s
        self._lock = asyncio.Lock()
        self._limiter = RateLimiter()

    @classmethod
    async def open(cls, state_dir: Path, active: Iterable[AlarmKey], save_every_s: float = 60.0) -> CareKeeper:
        """``active``: the care alarms the alarm journal holds as raised (committed, not cleared)."""
        state = CareStateFile(state_dir / STATE_FILE)
        saved = await asyncio.to_thread(state.load)
        return cls(CareEngine(active, saved), state, save_every_s)

    @property
    def active(self) -> frozenset[AlarmKey]:
        return self.engine.active

    async def configure(self, rules: Iterable[CareRule]) -> list[Event]:
        events = self.engine.configure(rules)
        await self.save()
        return events

    async def forget(self, device: str) -> list[Event]:
        events = self.engine.forget(device)
        if events:
            await self.save()
        return events

    async def observe(self, reading: Reading) -> list[Event]:
        events = self.engine.observe(reading)
        if events:
            await self.save()
        return events

    async def save(self) -> bool:
        """Write the state now; False (logged, retried by the next save) when the disk refused."""
        async with self._lock:
            data = self._state.encode(self.engine.states())
            self.engine.mark_saved()
            try:
                await asyncio.to_thread(self._state.write, data)
            except OSError as exc:
                self.engine.changed = True
                log_limited(self._limiter, log, "save", "care_state_not_saved", path=str(self._state.path),
                            error=str(exc))
                return False
            self._limiter.reset("save")
            return True

    async def run(self) -> None:
        """Save every ``save_every_s`` while the state moves (a supervised task)."""
        while True:
            await asyncio.sleep(self.save_every_s)
            if self.engine.changed:
                await self.save()
