"""What the timeline did: one entry per injection (the report's bands and the per-fault checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["injected", "skipped", "failed"]


@dataclass
class FaultRecord:
    kind: str
    start: float  # wall clock
    end: float
    status: Status = "injected"
    detail: str = ""
    problems: list[str] = field(default_factory=list)  # the agent reacted wrongly (checked by the injector)


@dataclass
class FaultLog:
    entries: list[FaultRecord] = field(default_factory=list)

    def add(self, record: FaultRecord) -> FaultRecord:
        self.entries.append(record)
        return record

    def injected(self) -> list[FaultRecord]:
        return [e for e in self.entries if e.status != "skipped"]
