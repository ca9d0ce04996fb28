"""The result of one scenario run: checks, the summary numbers, fault bands and time series.

Everything the console table, the JSON file, the JUnit XML and the HTML report show comes from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rig.checks.result import CheckResult
from rig.observe.faultlog import FaultRecord


@dataclass
class Summary:
    produced: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    explained: int = 0
    moved_aside: int = 0
    skipped: int = 0
    recovery_max_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    faults_injected: int = 0
    faults_skipped: int = 0
    rss_growth_mb: float | None = None
    rss_per_hour_mb: float | None = None
    rss_hourly_mb: list[float] = field(default_factory=list)
    cpu_mean: float | None = None


@dataclass
class Series:
    """Time series for the plot; times are seconds since the timeline started."""

    samples: list[dict[str, Any]] = field(default_factory=list)  # t, rss_mb, cpu, outbox, connected
    arrivals: list[float] = field(default_factory=list)  # one per record received
    latencies: list[tuple[float, float]] = field(default_factory=list)  # t, ms (live readings)
    violations: list[tuple[float, str]] = field(default_factory=list)  # t, check name (failed evidence)


@dataclass
class RunResult:
    scenario: str
    description: str
    group: str
    mode: str  # full, short, soak
    seed: int
    started: float  # wall clock when the timeline started
    ended: float
    source: str = ""
    summary: Summary = field(default_factory=Summary)
    checks: list[CheckResult] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    series: Series = field(default_factory=Series)
    workdir: str = ""
    phases: dict[str, float] = field(default_factory=dict)  # seconds: stand_up, agent_start, timeline, settle
    error: str | None = None  # the run itself could not complete (pole would not stand up)

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed is not False for c in self.checks)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.passed is False]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        for check, raw in zip(self.checks, data["checks"], strict=True):
            raw["status"] = check.status
        return data
