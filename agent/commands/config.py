"""Downlink command settings (the ``commands:`` section of config.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CommandsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    writable: list[str] = Field(
        default_factory=list,
        description="'device.point' patterns (fnmatch) that downlink may write; the profile must agree",
    )
    max_ttl_s: float = Field(3600, gt=0, description="commands expiring later than this are refused")
    replay_window: int = Field(10_000, ge=100, description="command ids remembered against replays")
    model_updates: bool = Field(False, description="allow update_model commands (new ONNX models over the air)")
    min_period_s: float = Field(
        0.1, gt=0, description="set_period below this is refused, even where the bus could go faster"
    )
