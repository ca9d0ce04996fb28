"""Ground truth: every value a simulated device put on the wire, with the wall-clock time it did.

Appended from the simulator thread, read by the checkers after the run (list appends are atomic
under the GIL; readers take a copy).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from agent.records import PointValue


@dataclass(frozen=True, slots=True)
class TruthSample:
    t: float
    value: PointValue


@dataclass
class Truth:
    samples: dict[tuple[str, str], list[TruthSample]] = field(default_factory=lambda: defaultdict(list))
    changes: list[tuple[float, str, str, PointValue]] = field(default_factory=list)  # stimuli: t, dev, pt, value

    def record(self, device: str, point: str, t: float, value: PointValue) -> None:
        self.samples[(device, point)].append(TruthSample(t, value))

    def changed(self, device: str, point: str, t: float, value: PointValue) -> None:
        """A stimulus switched a point's value at ``t`` (alarm latency starts here)."""
        self.changes.append((t, device, point, value))

    def of(self, device: str, point: str) -> list[TruthSample]:
        return list(self.samples.get((device, point), ()))

    def known(self, device: str) -> bool:
        return any(key[0] == device for key in list(self.samples))


def now() -> float:
    """The rig's wall clock (the simulators and the collector use the same one)."""
    return time.time()
