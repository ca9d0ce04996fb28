"""The reconnect schedule keeps a fleet's connects per second under ``reconnect_max_rate`` whenever the
broker comes back: a fleet simulated on the schedule's own delays (seeded, no clock, no sockets).
The real storm against mosquitto is bench/bench_reconnect_storm.py (timing belongs in bench/)."""

from __future__ import annotations

import collections
import random

import pytest

from agent.uplink.backoff import Backoff, ReconnectSchedule, mean_rate_for_peak, spread_window_s
from agent.uplink.config import UplinkConfig


def storm_peak(fleet: int, max_rate: float, down_s: float, seed: int, jitter: bool = True) -> tuple[int, float]:
    """Every gateway loses the broker at t=0; the broker is back at ``down_s``. Returns the peak
    connects in a 1-second bin and when the last gateway is back."""
    rng = random.Random(seed)
    window = spread_window_s(fleet, max_rate)
    connects = []
    for _ in range(fleet):
        schedule = ReconnectSchedule(window, base_s=1.0, cap_s=120.0, jitter=jitter, rand=rng.random)
        t = schedule.after_drop()
        while t < down_s:  # the attempt fails: the broker is still down
            t += schedule.after_failure()
        connects.append(t)
    bins = collections.Counter(int(t) for t in connects)
    return max(bins.values()), max(connects)


@pytest.mark.parametrize(("fleet", "max_rate"), [(1000, 100.0), (10_000, 200.0), (10_000, 1000.0)])
@pytest.mark.parametrize("down_s", [1.0, 10.0, 60.0, 600.0])
def test_fleet_reconnects_stay_under_the_rate_whenever_the_broker_returns(
    fleet: int, max_rate: float, down_s: float
) -> None:
    for seed in range(3):
        peak, _ = storm_peak(fleet, max_rate, down_s, seed)
        assert peak <= max_rate, (fleet, max_rate, down_s, seed, peak)


def test_all_are_back_within_a_window_after_a_short_outage() -> None:
    window = spread_window_s(1000, 100.0)
    _, last = storm_peak(1000, 100.0, 2.0, seed=1)
    assert last <= 2.0 + window + 1.0 + window  # a failed first try waits one window plus a 1 s back-off step


def test_lockstep_without_jitter_is_one_burst() -> None:
    peak, _ = storm_peak(1000, 100.0, 2.0, seed=1, jitter=False)
    assert peak == 1000


def test_full_jitter_retries_alone_pile_up_when_the_broker_returns() -> None:
    """The schedule main had: first try uniform(0, window), then full-jitter back-off from 1 s that
    ignores the window. Gateways that tried while the broker was down retry within seconds and land
    together on its return: over the limit (what bench/bench_reconnect_storm.py measured at the broker)."""
    rng = random.Random(1)
    fleet, max_rate, down_s = 1000, 100.0, 4.0
    window = spread_window_s(fleet, max_rate)
    connects = []
    for _ in range(fleet):
        backoff = Backoff(1.0, 120.0, rand=rng.random)
        t = rng.random() * window
        while t < down_s:
            t += backoff.delay()
        connects.append(t)
    assert max(collections.Counter(int(t) for t in connects).values()) > max_rate


def test_mean_rate_keeps_four_standard_deviations_of_margin() -> None:
    for limit in (10.0, 100.0, 1000.0):
        mean = mean_rate_for_peak(limit)
        assert mean + 4 * mean**0.5 == pytest.approx(limit)


def test_window_comes_from_fleet_size_and_rate_and_is_capped() -> None:
    assert UplinkConfig().reconnect_window_s == pytest.approx(1000 / mean_rate_for_peak(100.0))
    big = UplinkConfig(reconnect_fleet_size=10_000, reconnect_max_rate=1000.0)
    assert big.reconnect_window_s == pytest.approx(10_000 / mean_rate_for_peak(1000.0))
    assert UplinkConfig(reconnect_fleet_size=100_000, reconnect_max_s=60.0).reconnect_window_s == 60.0


def test_retries_wait_at_least_the_window() -> None:
    schedule = ReconnectSchedule(10.0, base_s=1.0, cap_s=8.0, rand=lambda: 1.0)
    assert [schedule.after_failure() for _ in range(5)] == [11.0, 12.0, 14.0, 18.0, 18.0]
    assert schedule.after_drop() == 10.0
    schedule.reset()
    assert schedule.after_failure() == 11.0
