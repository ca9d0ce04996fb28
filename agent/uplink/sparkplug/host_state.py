"""Primary Host Application STATE (Sparkplug 3.0): ``spBv1.0/STATE/<host_id>``, JSON ``{"online", "timestamp"}``.

A STATE message counts only if its timestamp is not older than the last one counted (a stale retained
or reordered message must not flip the state back). The last timestamp is kept across sessions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class HostState:
    online: bool
    timestamp: int


def parse_state(payload: bytes) -> HostState | None:
    """The STATE payload, or None when it is not the 3.0 JSON form (the 2.x plain ``ONLINE`` is refused)."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    online, timestamp = doc.get("online"), doc.get("timestamp")
    if not isinstance(online, bool) or isinstance(timestamp, bool) or not isinstance(timestamp, int):
        return None
    return HostState(online, timestamp)


class PrimaryHost:
    def __init__(self, host_id: str) -> None:
        self.host_id = host_id
        self.online = False
        self.last_timestamp: int | None = None
        self._changed = asyncio.Event()

    def offer(self, payload: bytes) -> HostState | None:
        """Count a STATE message; returns it when it was current, None when ignored."""
        state = parse_state(payload)
        if state is None:
            return None
        if self.last_timestamp is not None and state.timestamp < self.last_timestamp:
            return None
        self.last_timestamp = state.timestamp
        self.online = state.online
        self._changed.set()
        return state

    def session_started(self) -> None:
        """A new MQTT session: wait for this server's (retained) STATE before trusting ``online``."""
        self.online = False

    async def wait_online(self) -> None:
        while not self.online:
            self._changed.clear()
            await self._changed.wait()
