"""What a running daemon exposes to the control socket, the CLI and metrics.

The daemon (``agent/daemon.py``) implements this; ``agent/control`` and ``agent/metrics`` only see
this Protocol, so they never reach into the daemon's internals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from agent.config import AgentConfigBase
from agent.outbox.api import OutboxStats
from agent.records import JsonValue, Record
from drivers.base import Driver


class Runtime(Protocol):
    @property
    def config(self) -> AgentConfigBase: ...

    @property
    def config_path(self) -> Path: ...

    @property
    def drivers(self) -> Mapping[str, Driver[Any]]: ...

    def driver_for(self, device: str) -> Driver[Any] | None:
        """The driver that serves ``device`` (by inventory name), if any."""
        ...

    def status(self) -> dict[str, JsonValue]:
        """Everything ``edgepost status`` shows: drivers/buses/devices, cameras, uplink, pipeline counters."""
        ...

    async def outbox_stats(self) -> OutboxStats: ...

    def subscribe(self) -> AsyncIterator[Record]:
        """Live records as the pipeline emits them (for ``edgepost watch``); ends when the daemon stops."""
        ...

    async def sync_now(self) -> None:
        """Wake the uplink to reconnect/drain right away."""
        ...

    async def purge(self, device: str | None, before: float | None) -> int:
        """Drop buffered records (technician's request); a gap event reports it. Returns the count."""
        ...

    async def reload(self) -> list[str]:
        """Re-read the config file. Returns the problems (empty list: the new config is running)."""
        ...
