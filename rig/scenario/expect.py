"""What a scenario expects, checked after the run from the broker's view and the simulators' truth."""

from __future__ import annotations

from pydantic import Field

from rig.scenario.base import Strict


class Expectations(Strict):
    seqs: bool = Field(True, description="every seq arrives or a gap explains it; duplicates identical; order")
    values: bool = Field(True, description="every good value equals the simulator's (or the expected file's)")
    value_window_s: float | None = Field(
        2.0, gt=0, description="a good value must have been on the wire this close to its ts (null: any time)"
    )
    alarm_latency_ms: float | None = Field(500.0, gt=0, description="tilt -> alarm at the broker")
    device_states: dict[str, list[str]] = Field(
        default_factory=dict, description="device -> states its device_state events must pass through, in order"
    )
    rss_growth_mb: float | None = Field(60.0, gt=0, description="agent RSS growth, first to last sample")
    cpu_percent: float | None = Field(90.0, gt=0, description="mean agent CPU over the run (one core = 100)")
    alive: bool = Field(True, description="the agent runs and `edgepost status` answers at the end")
    drained: bool = Field(True, description="the outbox is empty at the end (nothing stuck)")
    commands_answered: bool = Field(True, description="every downlink command with an id gets one answer")
    recovery_s: float | None = Field(
        30.0, gt=0, description="after each fault ends, records reach the broker again within this"
    )
    min_delivered: int = Field(1, ge=0, description="at least this many records reach the broker")
    settle_s: float = Field(60.0, gt=0, description="after the timeline, wait this long at most for the drain")
