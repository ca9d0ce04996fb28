"""A RecordSink that keeps everything and lets a test wait for a record it expects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.records import Event, Record


class CollectingSink:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self._changed = asyncio.Condition()

    async def put(self, record: Record) -> None:
        async with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def events(self, kind: str | None = None) -> list[Event]:
        return [r for r in self.records if isinstance(r, Event) and (kind is None or r.kind == kind)]

    async def wait_for(self, predicate: Callable[[CollectingSink], bool], timeout: float = 30.0) -> None:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(_wait(), timeout)

    def states(self) -> list[str]:
        return [str(e.data["state"]) for e in self.events("camera_state")]

    def state_changes(self) -> list[str]:
        """``states()`` without repeats: an offline camera also reports each new cause of failing opens."""
        changes: list[str] = []
        for state in self.states():
            if not changes or changes[-1] != state:
                changes.append(state)
        return changes
