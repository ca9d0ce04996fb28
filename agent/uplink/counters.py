"""Uplink counters for ``edgepost status`` and metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from agent.records import JsonValue


@dataclass(slots=True)
class UplinkCounters:
    connected: bool = False
    connects: int = 0
    reconnects: int = 0  # connection attempts that failed or sessions that dropped
    published: int = 0  # batch messages handed to the broker
    acked: int = 0  # batch messages PUBACKed
    records_acked: int = 0  # records deleted from the outbox after a PUBACK
    delete_failures: int = 0  # deletes the outbox could not commit (retried; the records stay pending)
    bytes_published: int = 0
    historical_batches: int = 0
    snapshots: int = 0  # snapshot messages PUBACKed (on the snapshots topic)
    commands: int = 0
    last_error: str | None = None

    def as_status(self) -> dict[str, JsonValue]:
        return dict(asdict(self))
