"""One checked expectation: passed, failed, or skipped (None), with the evidence."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    name: str
    passed: bool | None  # None: skipped
    summary: str
    details: list[str] = field(default_factory=list)
    at: list[float] = field(default_factory=list)  # wall-clock times of the evidence (plotted as markers)

    @property
    def status(self) -> str:
        return "skipped" if self.passed is None else ("passed" if self.passed else "failed")


def limited(details: list[str], most: int = 20) -> list[str]:
    """The first ``most`` details, and how many more there were."""
    if len(details) <= most:
        return details
    return [*details[:most], f"... and {len(details) - most} more"]
