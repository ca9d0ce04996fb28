"""Prometheus text exposition format 0.0.4 (what node-exporter's textfile collector reads too)."""

from __future__ import annotations

from collections.abc import Iterable

from agent.metrics.collect import Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if value == float("-inf"):
        return "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def render(samples: Iterable[Sample]) -> str:
    """Samples grouped by name, one TYPE line each (``*_total`` are counters, the rest gauges)."""
    by_name: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, {})[sample.labels] = sample.value  # last one wins on duplicates
    lines: list[str] = []
    for name in sorted(by_name):
        kind = "counter" if name.endswith("_total") else "gauge"
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in sorted(by_name[name].items()):
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"
