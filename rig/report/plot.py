"""The timeline plot (matplotlib, Agg, PNG bytes): faults as bands over five stacked panels that
share the time axis: message rate, outbox depth, live latency, agent RSS and CPU."""

from __future__ import annotations

import io
from collections import Counter

import matplotlib

matplotlib.use("Agg")  # no display on a pole or in CI; must precede pyplot
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from rig.results import RunResult

_FAULT_COLOURS = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#999999"]


def timeline_png(result: RunResult) -> bytes:
    series = result.series
    end = max(result.ended - result.started, 1.0)
    fig, axes = plt.subplots(5, 1, sharex=True, figsize=(12, 10), constrained_layout=True)
    rate_ax, depth_ax, latency_ax, rss_ax, cpu_ax = axes

    per_second = Counter(int(t) for t in series.arrivals if t >= 0)
    seconds = list(range(int(end) + 1))
    rate_ax.step(seconds, [per_second.get(s, 0) for s in seconds], where="post", color="#1b9e77", linewidth=0.9)
    rate_ax.set_ylabel("records/s\nat broker")
    if series.violations:
        rate_ax.scatter([t for t, _ in series.violations], [0] * len(series.violations), marker="X", s=60,
                        color="#d62728", zorder=5, label="failed check evidence (" +
                        ", ".join(sorted({name for _, name in series.violations})) + ")")
        rate_ax.legend(loc="upper right", fontsize=7)

    samples = series.samples
    times = [s["t"] for s in samples]
    depth_ax.plot(times, [s["outbox"] if s["outbox"] is not None else float("nan") for s in samples],
                  color="#7570b3", linewidth=1.0)
    down = [s["t"] for s in samples if s.get("answered") is False]
    if down:
        depth_ax.scatter(down, [0] * len(down), marker="x", color="#d62728", s=12, label="agent not answering")
        depth_ax.legend(loc="upper right", fontsize=7)
    depth_ax.set_ylabel("outbox\nrecords")

    if series.latencies:
        latency_ax.scatter([t for t, _ in series.latencies], [max(ms, 0.1) for _, ms in series.latencies],
                           s=3, color="#d95f02")
        latency_ax.set_yscale("log")
    latency_ax.axhline(500, color="#666666", linestyle="--", linewidth=0.8)
    latency_ax.set_ylabel("live latency\nms (log)")

    rss_ax.plot(times, [s["rss_mb"] if s["rss_mb"] is not None else float("nan") for s in samples],
                color="#e7298a", linewidth=1.0)
    rss_ax.set_ylabel("agent RSS\nMiB")
    cpu_ax.plot(times, [s["cpu"] if s["cpu"] is not None else float("nan") for s in samples],
                color="#66a61e", linewidth=1.0)
    cpu_ax.set_ylabel("agent CPU\n% of a core")
    cpu_ax.set_xlabel("seconds since the timeline started")
    cpu_ax.set_xlim(0, end)

    _fault_bands(result, axes)
    fig.suptitle(f"{result.scenario} ({result.mode}): {'PASS' if result.passed else 'FAIL'}")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=90)
    plt.close(fig)
    return out.getvalue()


def _fault_bands(result: RunResult, axes: list[Axes]) -> None:
    colours: dict[str, str] = {}
    for fault in result.faults:
        colour = colours.setdefault(fault.kind, _FAULT_COLOURS[len(colours) % len(_FAULT_COLOURS)])
        start, end = fault.start - result.started, fault.end - result.started
        hatch = "//" if fault.status != "injected" else None
        for ax in axes:
            if end - start < 0.2:
                ax.axvline(start, color=colour, linewidth=1.2, alpha=0.7)
            else:
                ax.axvspan(start, end, color=colour, alpha=0.15, hatch=hatch)
        label = fault.kind + ("" if fault.status == "injected" else f" ({fault.status})")
        axes[0].annotate(label, (start, 1.0), xycoords=("data", "axes fraction"), rotation=30, fontsize=7,
                         color=colour, va="bottom", ha="left")
