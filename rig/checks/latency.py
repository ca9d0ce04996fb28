"""Latency: a tilt stimulus must raise its alarm at the broker within the limit (the city's device
access spec asks <= 500 ms); p50/p99 of live readings from read time to arrival, for the summary."""

from __future__ import annotations

from dataclasses import dataclass

from rig.checks.result import CheckResult
from rig.observe.truth import Truth
from rig.observe.upstream import Upstream


@dataclass(frozen=True)
class Latencies:
    p50_ms: float | None
    p99_ms: float | None
    samples: list[tuple[float, float]]  # (arrival, ms) of live readings, for the plot


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def live_latencies(up: Upstream, sane_s: float = 3600.0) -> Latencies:
    """Readings sent live; a latency beyond ``sane_s`` (a jumped agent clock) is left out."""
    samples = []
    for r in up.first_occurrences():
        if r.hist or not r.is_reading:
            continue
        ms = (r.arrived - float(r.item.get("ts", r.arrived))) * 1000.0
        if -sane_s * 1000 < ms < sane_s * 1000:
            samples.append((r.arrived, ms))
    values = [ms for _, ms in samples]
    return Latencies(percentile(values, 50), percentile(values, 99), samples)


def check_alarm_latency(up: Upstream, truth: Truth, limit_ms: float) -> CheckResult:
    if not truth.changes:
        return CheckResult("latency.alarm", None, "no tilt stimulus in this scenario")
    alarms = [r for r in up.events("alarm")]
    details: list[str] = []
    worst = 0.0
    failed = False
    for t, dev, point, value in truth.changes:
        hits = sorted(
            r.arrived for r in alarms
            if r.dev == dev and r.arrived >= t and (r.item.get("data") or {}).get("point") == point
        )
        if not hits:
            failed = True
            details.append(f"{dev}.{point} -> {value}: no alarm reached the broker")
            continue
        ms = (hits[0] - t) * 1000.0
        worst = max(worst, ms)
        ok = ms <= limit_ms
        failed |= not ok
        details.append(f"{dev}.{point} -> {value}: alarm after {ms:.0f} ms{'' if ok else f' (limit {limit_ms:g})'}")
    return CheckResult("latency.alarm", not failed, f"worst tilt-to-broker {worst:.0f} ms (limit {limit_ms:g} ms)",
                       details)
