"""Capped exponential back-off with full jitter, and the uplink's reconnect schedule built on it."""

from __future__ import annotations

import math
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


PEAK_MARGIN_SD = 4.0  # standard deviations of a 1-second count kept between the mean rate and the limit


def mean_rate_for_peak(max_rate: float) -> float:
    """The mean connects/s whose 1-second counts stay under ``max_rate``: m + 4 * sqrt(m) = max_rate.

    Connects of independently jittered gateways arrive like a Poisson stream, so a second's count
    spreads by about sqrt(mean); four of those keep every second of a storm lasting minutes under the
    limit (for 100/s the mean is 67/s, for 1,000/s 881/s).
    """
    root = (math.sqrt(PEAK_MARGIN_SD**2 + 4.0 * max_rate) - PEAK_MARGIN_SD) / 2.0
    return root * root


def spread_window_s(fleet_size: int, max_rate: float) -> float:
    """Seconds over which ``fleet_size`` gateways spread their reconnects to stay under ``max_rate``/s."""
    return fleet_size / mean_rate_for_peak(max_rate)


class ReconnectSchedule:
    """When the uplink dials again, so that a fleet that lost its broker together comes back at a bounded rate.

    After a lost connection the first attempt waits uniform(0, window); after a failed attempt the next
    waits the window plus the capped full-jitter back-off (``base_s`` doubling to ``cap_s``). Each
    gateway's attempts thus start at a uniformly random phase in the window and are at least a window
    apart, so at any instant, whenever the broker comes back, N gateways dial at most N / window times
    per second on average. Without jitter (benchmarks only) every wait is the fixed back-off step, and
    a fleet dials in lockstep.
    """

    def __init__(
        self,
        window_s: float,
        base_s: float,
        cap_s: float,
        jitter: bool = True,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.window_s = window_s
        self.jitter = jitter
        self._rand = rand
        self._backoff = Backoff(base_s, cap_s, rand, jitter)

    @property
    def attempt(self) -> int:
        return self._backoff.attempt

    def after_drop(self) -> float:
        """Wait before the first attempt after a connection that was up was lost."""
        if not self.jitter:
            return self._backoff.base_s
        return self._rand() * self.window_s

    def after_failure(self) -> float:
        """Wait after an attempt that failed."""
        step = self._backoff.delay()
        return step if not self.jitter else self.window_s + step

    def reset(self) -> None:
        """A session lasted: the next failure starts the back-off from ``base_s`` again."""
        self._backoff.reset()
