"""Capped exponential back-off with full jitter, so a fleet does not reconnect in lockstep."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """``delay()`` returns uniform(0, min(cap, base * 2**attempt)) and counts the attempt."""

    def __init__(
        self, base_s: float, cap_s: float, rand: Callable[[], float] = random.random, jitter: bool = True
    ) -> None:
        self.base_s = base_s
        self.jitter = jitter  # False: the ceiling itself (a fleet retries in lockstep; benchmarks only)
        self.cap_s = max(cap_s, base_s)
        self.attempt = 0
        self._rand = rand

    def ceiling(self) -> float:
        return float(min(self.cap_s, self.base_s * (2.0 ** min(self.attempt, 62))))

    def delay(self) -> float:
        ceiling = self.ceiling()
        self.attempt += 1
        return self._rand() * ceiling if self.jitter else ceiling

    def reset(self) -> None:
        self.attempt = 0
