"""Uplink encode cost after splitting snapshots out of event batches.

Two comparisons, same records, same process, medians over ``--repeats``:

- **batch chunk** (500 readings + 20 events, MQTT 5): ``BatchPublisher._encode`` (sorts out snapshots,
  builds properties) against the bare codec (``JsonBatchCodec.encode`` + ``batch_properties``);
- **snapshots** (20 snapshot events with a ~150 kB JPEG each): ``BatchPublisher._encode`` against a bare
  ``orjson.dumps`` of each stored body (the least any JSON transport of them costs).

Run: ``.venv/bin/python bench/bench_uplink_encode.py [--smoke | --quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _results import Figure, Report, add_mode_args, mode_of

from agent.outbox.api import StoredRecord
from agent.records import Priority
from agent.uplink.codecs.json_batch import JsonBatchCodec
from agent.uplink.counters import UplinkCounters
from agent.uplink.drain import Chunk, DrainScheduler
from agent.uplink.publisher import AckedDeleter, BatchPublisher, batch_properties
from agent.uplink.topics import Topics

MAX_PAYLOAD = 256 * 1024


def readings_and_events() -> list[StoredRecord]:
    now = time.time()
    out = [StoredRecord(i, Priority.TELEMETRY, "reading", f"m{i % 8}", now, now,
                        {"point": "voltage", "value": 230.0 + i % 7, "unit": "V", "quality": "good"})
           for i in range(1, 501)]
    out += [StoredRecord(600 + i, Priority.EVENT, "event", "cam1", now, now,
                         {"kind": "line_crossing", "data": {"event_id": f"e{i}", "line": "gate"}})
            for i in range(20)]
    return out


def snapshots() -> list[StoredRecord]:
    now = time.time()
    jpeg = base64.b64encode(os.urandom(150_000)).decode()
    return [StoredRecord(900 + i, Priority.EVENT, "event", "cam1", now, now,
                         {"kind": "snapshot", "data": {"event_id": f"e{i}", "event_kind": "illegal_parking",
                                                       "topic": "snapshots", "content_type": "image/jpeg",
                                                       "jpeg_b64": jpeg, "bytes": 150_000}})
            for i in range(20)]


def median_s(fn: Callable[[], object], loops: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def paired_medians(
    fn: Callable[[], object], base: Callable[[], object], loops: int, repeats: int
) -> tuple[float, float]:
    """Both warmed up once, then timed in alternation, so a pause of the shared machine lands on both."""
    fn()
    base()
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(median_s(fn, loops, 1))
        theirs.append(median_s(base, loops, 1))
    return statistics.median(ours), statistics.median(theirs)


async def make_publisher() -> tuple[BatchPublisher, JsonBatchCodec]:
    class NoOutbox:
        last_seq = 0

    codec = JsonBatchCodec("gw1", MAX_PAYLOAD, compress_historical=False)
    scheduler = DrainScheduler(NoOutbox(), 500, 0.5, 60.0)  # type: ignore[arg-type]
    counters = UplinkCounters()
    deleter = AckedDeleter(NoOutbox(), scheduler, counters)  # type: ignore[arg-type]
    publisher = BatchPublisher(None, Topics("edgepost", "gw1"), codec, scheduler, deleter,  # type: ignore[arg-type]
                               counters, 100, True, 10.0, asyncio.Event())
    return publisher, codec


def main() -> int:
    parser = argparse.ArgumentParser()
    add_mode_args(parser)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    mode = mode_of(args)
    loops = {"smoke": 10, "quick": 20, "full": 200}[mode]
    publisher, codec = asyncio.run(make_publisher())

    mixed = readings_and_events()
    chunk = Chunk(mixed, historical=False, lane=Priority.TELEMETRY)

    def bare_batches() -> None:
        for part in (mixed[500:], mixed[:500]):
            for batch in codec.encode(part, False):
                batch_properties(batch)

    report = Report("bench_uplink_encode", mode, params={"loops": loops, "repeats": args.repeats})
    measured = median_s(lambda: publisher._encode(chunk), loops, args.repeats)
    baseline = median_s(bare_batches, loops, args.repeats)
    print(f"batch chunk (520 records): publisher {measured * 1e6:.0f} us, bare codec {baseline * 1e6:.0f} us, "
          f"ratio {measured / baseline:.3f}x")
    report.add(Figure(
        id="encode.batch", title="encode a chunk of 500 readings + 20 events (BatchPublisher)", value=measured * 1e6,
        unit="us", baseline=baseline * 1e6, baseline_title="bare codec + MQTT 5 properties", better="lower",
        floor=1.5))

    pictures = snapshots()
    snap_chunk = Chunk(pictures, historical=False, lane=Priority.EVENT)
    # ~1 ms a call: in the smoke run too few calls made one page-fault burst the whole figure
    measured, baseline = paired_medians(lambda: publisher._encode(snap_chunk),
                                        lambda: [orjson.dumps(r.body) for r in pictures],
                                        max(5, loops // 10), max(args.repeats, 9))
    print(f"snapshots (20 x 150 kB): publisher {measured * 1e3:.2f} ms, bare orjson {baseline * 1e3:.2f} ms, "
          f"ratio {measured / baseline:.3f}x")
    report.add(Figure(
        id="encode.snapshots", title="encode 20 snapshots of ~150 kB (BatchPublisher)", value=measured * 1e3,
        unit="ms", baseline=baseline * 1e3, baseline_title="bare orjson.dumps of each body", better="lower",
        floor=3.5))  # the full run of 2026-12-07 measured 3.4
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
