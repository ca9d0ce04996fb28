"""RSS growth and CPU of the agent, per process lifetime (a restart starts a new baseline);
growth per hour from a least-squares slope, for soak runs."""

from __future__ import annotations

from dataclasses import dataclass

from rig.checks.result import CheckResult
from rig.observe.sampler import Sample

_WARMUP_S = 5.0  # imports, profile parsing and the first cycles are not growth


@dataclass(frozen=True)
class Resources:
    rss_growth_mb: float | None
    rss_per_hour_mb: float | None
    cpu_mean: float | None
    rss_max_mb: float | None
    rss_hourly_mb: list[float]  # growth in each full or partial hour of the longest process lifetime


def _slope(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def summarise(samples: list[Sample]) -> Resources:
    lifetimes: dict[int, list[Sample]] = {}
    for s in samples:
        if s.pid is not None and s.rss_mb is not None:
            lifetimes.setdefault(s.pid, []).append(s)
    growth: float | None = None
    per_hour: float | None = None
    hourly: list[float] = []
    longest = 0.0
    for run in lifetimes.values():
        settled = [s for s in run if s.t - run[0].t >= _WARMUP_S] or run[-1:]
        rss = [s.rss_mb for s in settled if s.rss_mb is not None]
        if len(rss) >= 2:
            delta = rss[-1] - rss[0]
            growth = delta if growth is None else max(growth, delta)
        span = settled[-1].t - settled[0].t
        slope = _slope([(s.t, s.rss_mb) for s in settled if s.rss_mb is not None])
        if slope is not None and span > longest:
            longest, per_hour, hourly = span, slope * 3600, _hourly(settled)
    cpu = [s.cpu_percent for s in samples if s.cpu_percent is not None]
    rss_all = [s.rss_mb for s in samples if s.rss_mb is not None]
    return Resources(growth, per_hour, sum(cpu) / len(cpu) if cpu else None, max(rss_all) if rss_all else None,
                     hourly)


def _hourly(run: list[Sample]) -> list[float]:
    """RSS at the end of each hour minus at its start (the soak report's per-hour growth)."""
    hours: dict[int, list[float]] = {}
    for s in run:
        if s.rss_mb is not None:
            hours.setdefault(int((s.t - run[0].t) // 3600), []).append(s.rss_mb)
    return [values[-1] - values[0] for _, values in sorted(hours.items())]


def check_resources(res: Resources, rss_limit_mb: float | None, cpu_limit: float | None) -> list[CheckResult]:
    out = []
    if rss_limit_mb is not None:
        if res.rss_growth_mb is None:
            out.append(CheckResult("resources.rss_growth", None, "too few RSS samples"))
        else:
            out.append(CheckResult(
                "resources.rss_growth", res.rss_growth_mb <= rss_limit_mb,
                f"RSS grew {res.rss_growth_mb:.1f} MiB (limit {rss_limit_mb:g}); max {res.rss_max_mb:.1f} MiB"
                + (f"; trend {res.rss_per_hour_mb:+.1f} MiB/h" if res.rss_per_hour_mb is not None else ""),
            ))
    if cpu_limit is not None:
        if res.cpu_mean is None:
            out.append(CheckResult("resources.cpu", None, "no CPU samples"))
        else:
            out.append(CheckResult("resources.cpu", res.cpu_mean <= cpu_limit,
                                   f"mean CPU {res.cpu_mean:.1f}% of a core (limit {cpu_limit:g}%)"))
    return out
