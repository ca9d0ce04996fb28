"""A scenario: a pole, a timeline of faults, expectations, and how CI and soak runs use it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from rig.scenario.base import NAME_PATTERN, Strict
from rig.scenario.expect import Expectations
from rig.scenario.faults import FaultSpec, scaled
from rig.scenario.pole import PoleSpec


class CiSpec(Strict):
    enabled: bool = True
    reason: str = Field("", description="why a scenario stays out of CI (the bug it still finds)")

    @model_validator(mode="after")
    def _reason_when_disabled(self) -> CiSpec:
        if not self.enabled and not self.reason.strip():
            raise ValueError("a scenario left out of CI must say why (ci: {enabled: false, reason: ...})")
        return self


class ShortSpec(Strict):
    scale: float = Field(0.25, gt=0, le=1, description="--short multiplies every time by this")
    duration_s: float | None = Field(None, gt=0, description="default: duration_s * scale")
    max_repeat: int | None = Field(None, ge=1, description="cap on each entry's repeat (five restarts take time)")


class Scenario(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    group: str = Field("basic", description="basic, outages, power, storage, bus, firmware, commands, tls, field")
    ci: CiSpec = CiSpec()
    seed: int = 1
    duration_s: float = Field(60.0, gt=0, description="the timeline runs this long, then the rig settles")
    sample_s: float = Field(1.0, gt=0, description="RSS/CPU/outbox sampling period")
    short: ShortSpec = ShortSpec()
    pole: PoleSpec
    timeline: list[FaultSpec] = Field(default_factory=list)
    expect: Expectations = Expectations()
    source: Path | None = Field(None, exclude=True, description="the file it was loaded from")

    def shortened(self) -> Scenario:
        """The CI version: times compressed by ``short.scale``."""
        scale = self.short.scale
        duration = self.short.duration_s or self.duration_s * scale
        timeline = [scaled(f, scale) for f in self.timeline]
        if self.short.max_repeat is not None:
            cap = self.short.max_repeat
            timeline = [f.model_copy(update={"repeat": min(f.repeat, cap)}) for f in timeline]
        return self.model_copy(update={"duration_s": duration, "timeline": timeline})

    def soaked(self, hours: float, sample_s: float = 10.0) -> Scenario:
        """The soak version: the same pole for hours, the timeline repeated every ``duration_s``."""
        cycle = self.duration_s
        repeats = max(1, int(hours * 3600 // cycle))
        timeline = [f.model_copy(update={"at": f.at + i * cycle}) for i in range(repeats) for f in self.timeline]
        return self.model_copy(update={"duration_s": hours * 3600, "sample_s": sample_s, "timeline": timeline})

    @property
    def simulated(self) -> bool:
        return all(b.simulated for b in self.pole.buses) and self.pole.broker.external is None
