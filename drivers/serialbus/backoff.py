"""Capped exponential back-off with jitter (reopening a port, retrying an offline device)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Backoff:
    """Capped exponential delay with +-20 % jitter, reset by a success."""

    base_s: float
    cap_s: float
    failures: int = 0
    rng: Callable[[], float] = random.random

    def failed(self) -> float:
        self.failures += 1
        delay = min(self.cap_s, self.base_s * 2.0 ** min(self.failures - 1, 40))
        jitter = 0.8 + 0.4 * float(self.rng())
        return float(min(self.cap_s, delay * jitter))

    def succeeded(self) -> None:
        self.failures = 0
