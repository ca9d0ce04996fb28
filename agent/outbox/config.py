"""Outbox settings (the ``outbox:`` section of config.yaml)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Durability(StrEnum):
    POWER_SAFE = "power-safe"  # synchronous=FULL: fsync'd before a record counts as accepted
    PROCESS_SAFE = "process-safe"  # synchronous=NORMAL: survives a crash of the agent, not a power cut


class FullPolicy(StrEnum):
    EVICT_OLDEST_TELEMETRY = "evict-oldest-telemetry"  # telemetry first, then events, alarms last
    REJECT_NEW = "reject-new"


class OutboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    durability: Durability = Durability.POWER_SAFE
    commit_interval_ms: int = Field(50, ge=1, le=5000, description="group commit: longest wait")
    commit_batch: int = Field(2000, ge=1, le=100_000, description="group commit: most records per commit")
    max_bytes: int | None = Field(
        None, ge=1 << 20, description="hard size cap; default: 25% of free disk, at most 2 GiB"
    )
    max_fraction_of_free_disk: float = Field(0.25, gt=0, le=0.9)
    hard_cap_bytes: int = Field(2 << 30, ge=1 << 20)
    ttl_s: float = Field(30 * 86400, gt=0, description="records older than this are expired")
    full_policy: FullPolicy = FullPolicy.EVICT_OLDEST_TELEMETRY
    reserve_share: float = Field(
        0.1, gt=0, le=0.5, description="reject-new: share of the cap only alarms and events may fill"
    )
    backlog_share: float = Field(
        0.5, gt=0, lt=1, description="share of uplink batches given to the backlog while live data flows"
    )
    live_window_s: float = Field(
        10.0, gt=0, description="records younger than this at send time are live, older are historical"
    )
    spill_max_records: int = Field(
        50_000, ge=100, description="degraded mode (disk full/read-only): records kept in RAM until the disk returns"
    )
    ram_seq_reserve: int = Field(
        100_000, ge=1000, le=10_000_000,
        description="seqs reserved on disk ahead (seq.hwm) for records accepted while degraded: at least"
        " half this many can be held in RAM before new records are refused; an unclean stop skips up to"
        " this many seqs (gap event lost_in_ram)",
    )
    degraded_retry_s: float = Field(5.0, gt=0, description="degraded mode: how often the disk is tried again")
    expiry_interval_s: float = Field(60.0, gt=0, description="how often TTL expiry runs")
    accept_stall_s: float = Field(
        60.0, gt=0, description="an accept or delete waiting longer than this counts as a hung outbox (watchdog)"
    )
