"""The outbox contract between the pipeline (writer) and the uplink (reader).

The pipeline calls ``accept``; it returns only after the records are committed at the configured
durability, with their gateway-wide strictly increasing ``seq``. The uplink reads batches with
``fetch`` and calls ``delete`` only for records whose PUBLISH the broker acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from agent.records import JsonValue, Priority, Record


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the outbox holds it, ready for an uplink codec."""

    seq: int
    priority: Priority
    kind: Literal["reading", "event"]
    device: str
    ts: float  # read/event time (wall clock)
    accepted_at: float  # when the outbox committed it
    # reading: {"point", "value", "unit", "quality"}; event: {"kind", "data"}
    body: dict[str, JsonValue]
    # held only in RAM (the degraded-mode spill) when read: acknowledged but not on disk, so a crash
    # now would lose it (its seq is never handed out again: TOPICS.md, "ram" and "lost_in_ram")
    ram: bool = False


@dataclass(frozen=True, slots=True)
class OutboxStats:
    records: int
    by_priority: dict[str, int]
    oldest_ts: float | None
    bytes_on_disk: int
    max_bytes: int
    evicted_total: int
    expired_total: int
    last_seq: int
    degraded: str | None  # why the outbox runs degraded (read-only fs, ENOSPC), or None
    rejected_total: int = 0  # records the reject-new policy refused since the agent started


class OutboxReader(Protocol):
    @property
    def last_seq(self) -> int:
        """The highest seq committed so far; cheap (no I/O), lets the uplink skip empty queries."""
        ...

    async def fetch(
        self,
        limit: int,
        *,
        after_seq: int = 0,
        priority: Priority | None = None,
        accepted_since: float | None = None,
        accepted_before: float | None = None,
        max_body_bytes: int | None = None,
    ) -> list[StoredRecord]:
        """Records with ``seq > after_seq`` in seq order, optionally one lane and an accept-time window.

        ``max_body_bytes`` bounds the page by stored size (at least one record), so big records
        (camera snapshots) cannot make one page large."""
        ...

    async def delete(self, seqs: Sequence[int]) -> None:
        """Forget records the broker acknowledged. Unknown seqs are ignored."""
        ...

    async def wait_for_records(self, after_seq: int, timeout: float | None = None) -> bool:
        """Wait until a record with seq > after_seq exists (True) or the timeout passes (False)."""
        ...

    async def stats(self) -> OutboxStats: ...


class OutboxWriter(Protocol):
    async def accept(self, records: Sequence[Record]) -> list[int | None]:
        """Commit ``records`` (group commit) and return their seqs once durable.

        None stands for a refused record: by the ``reject-new`` full policy (telemetry past its budget;
        events and alarms only once the reserve is full too), or while degraded with no seq reserved on
        disk left (seqs.py); counted, and reported by a gap event."""
        ...
