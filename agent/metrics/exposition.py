"""Our samples as prometheus_client metric families; its encoders write the exposition format.

prometheus_client does the format (escaping, number formatting, HELP/TYPE lines, OpenMetrics when a
scraper asks for it) and adds the process metrics (``edgepost_process_resident_memory_bytes``, CPU,
open fds, start time). What it cannot know is how the status document maps to metrics: that stays in
``collect.py``. Families are built per scrape from a snapshot, so nothing is registered globally and
a device that disappears from the status disappears from the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from agent.metrics.collect import PREFIX, Sample

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what node-exporter's textfile collector reads
HELP = "edgepost: from the agent's status document (edgepost status --json)"
_COUNTER_SUFFIX = "_total"


class Snapshot(Collector):
    """One scrape's families: ours, then the process's."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self._families = families(samples)
        self._process = ProcessCollector(namespace=PREFIX, registry=None)

    def collect(self) -> Iterable[Metric]:
        yield from self._families
        yield from self._process.collect()


def families(samples: Iterable[Sample]) -> list[Metric]:
    """Samples grouped by name: ``*_total`` are counters, the rest gauges (last value wins on duplicates)."""
    by_name: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, {})[sample.labels] = sample.value
    gauges = {name for name in by_name if not name.endswith(_COUNTER_SUFFIX)}
    out: list[Metric] = []
    for name in sorted(by_name):
        rows = sorted(by_name[name].items())
        label_names = sorted({key for labels, _ in rows for key, _ in labels})  # an absent label is ""
        family: GaugeMetricFamily | CounterMetricFamily
        if name.endswith(_COUNTER_SUFFIX) and name.removesuffix(_COUNTER_SUFFIX) not in gauges:
            family = CounterMetricFamily(name, HELP, labels=label_names)  # exposed as <name>, family <name - _total>
        else:
            family = GaugeMetricFamily(name, HELP, labels=label_names)
        for labels, value in rows:
            given = dict(labels)
            family.add_metric([given.get(key, "") for key in label_names], value)
        out.append(family)
    return out


def render(samples: Iterable[Sample]) -> str:
    """The text format 0.0.4 (the textfile, and a scraper that asks for nothing else)."""
    return generate_latest(Snapshot(samples)).decode()


def encoder_for(accept: str | None) -> tuple[Callable[[Collector], bytes], str]:
    """The format a scraper's ``Accept`` header asks for (OpenMetrics or text), and its content type."""
    return choose_encoder(accept or "")
