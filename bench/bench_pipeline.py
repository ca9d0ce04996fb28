"""The Pipeline's own cost: records/s through ``Pipeline.put`` and its writer task, rules applied.

Drivers hand the pipeline one record at a time (``await sink.put(reading)``); the pipeline evaluates
alarms and deadbands, queues what survives and its single writer task hands batches to the outbox.
Here the outbox is a stub that accepts at once, so only the pipeline is measured. 64 devices x 30
points, one producer task per device putting its readings as a driver's cycle does; a third of the
points carry a deadband (values random-walk, so some are suppressed) and every device one alarm.

baseline (same run, same producers, same records): a bare bounded deque of the same size, signalled
by two events, with one consumer taking batches of up to 2,000 and handing them to the same stub, no
rules: the least any queueing between drivers and the outbox costs. Ratio pipeline/bare (throughput).
Both are single-threaded, so records per CPU second of this process (``time.process_time``): a loaded
machine slows the wall clock, not that. The production path with the
real outbox behind the pipeline is in ``bench_outbox_ingest.py`` (P3).

    .venv/bin/python bench/bench_pipeline.py [--smoke | --quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Sequence

from _results import Figure, Report, add_mode_args, mode_of

from agent.pipeline.pipeline import Pipeline
from agent.records import Reading, Record
from agent.rules import AlarmRule, PointRule

DEVICES, POINTS, QUEUE, BATCH = 64, 30, 10_000, 2000


class StubOutbox:
    """Accepts at once and counts (the OutboxWriter interface the pipeline needs)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.done = asyncio.Event()
        self.expect = 0

    async def accept(self, records: Sequence[Record]) -> list[int]:
        start = self.accepted
        self.accepted += len(records)
        if self.accepted >= self.expect:
            self.done.set()
        return list(range(start + 1, self.accepted + 1))


def rules() -> list[PointRule]:
    out = []
    for d in range(DEVICES):
        for p in range(POINTS):
            alarms = (AlarmRule("high", above=1e9),) if p == 0 else ()
            out.append(PointRule(f"dev{d}", f"p{p}", deadband=0.5 if p % 3 == 0 else None, alarms=alarms))
    return out


def cycles(count: int, seed: int = 1) -> list[list[list[Reading]]]:
    """Per device, ``count`` cycles of readings (random walks), built before any clock runs."""
    rng = random.Random(seed)
    now = time.time()
    out = []
    for d in range(DEVICES):
        values = [rng.uniform(0, 100) for _ in range(POINTS)]
        device = []
        for c in range(count):
            cycle = []
            for p in range(POINTS):
                values[p] += rng.uniform(-1, 1)
                cycle.append(Reading(f"dev{d}", f"p{p}", values[p], now + c, "kWh"))
            device.append(cycle)
        out.append(device)
    return out


async def through_pipeline(work: list[list[list[Reading]]]) -> tuple[float, int]:
    outbox = StubOutbox()
    pipeline = Pipeline(outbox, heartbeat_s=300.0, queue_size=QUEUE, batch=BATCH)
    await pipeline.apply_rules(rules())
    writer = asyncio.create_task(pipeline.run())

    async def device(cycles_of_device: list[list[Reading]]) -> None:
        for cycle in cycles_of_device:
            for reading in cycle:
                await pipeline.put(reading)

    total = sum(len(c) for d in work for c in d)
    started = time.process_time()
    await asyncio.gather(*(device(d) for d in work))
    await pipeline.drain()
    elapsed = time.process_time() - started
    writer.cancel()
    suppressed = pipeline.counters.suppressed
    return total / elapsed, suppressed


async def through_bare_queue(work: list[list[list[Reading]]]) -> float:
    """The least a bounded queue with a batching consumer can cost: a deque, two events, no rules."""
    outbox = StubOutbox()
    items: deque[Record] = deque()
    ready, room = asyncio.Event(), asyncio.Event()
    total = sum(len(c) for d in work for c in d)
    done = asyncio.Event()
    taken = 0

    async def consumer() -> None:
        nonlocal taken
        while taken < total:
            while not items:
                ready.clear()
                await ready.wait()
            batch = [items.popleft() for _ in range(min(BATCH, len(items)))]
            room.set()
            await outbox.accept(batch)
            taken += len(batch)
        done.set()

    async def device(cycles_of_device: list[list[Reading]]) -> None:
        for cycle in cycles_of_device:
            for reading in cycle:
                while len(items) >= QUEUE:
                    room.clear()
                    await room.wait()
                items.append(reading)
                ready.set()

    task = asyncio.create_task(consumer())
    started = time.process_time()
    await asyncio.gather(*(device(d) for d in work))
    await done.wait()
    elapsed = time.process_time() - started
    await task
    return total / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    args = parser.parse_args()
    mode = mode_of(args)
    count, repeats = {"smoke": (20, 3), "quick": (50, 5), "full": (100, 9)}[mode]
    work = cycles(count)
    total = DEVICES * POINTS * count
    piped: list[float] = []
    bare: list[float] = []
    suppressed = 0
    for _ in range(repeats):  # interleaved: load from other processes hits both alike
        rate, suppressed = asyncio.run(through_pipeline(work))
        piped.append(rate)
        bare.append(asyncio.run(through_bare_queue(work)))
    p, b = statistics.median(piped), statistics.median(bare)
    print(f"pipeline: {DEVICES} devices x {POINTS} points x {count} cycles = {total:,} readings, "
          f"{repeats} interleaved repeats ({mode}); {suppressed:,} suppressed by deadbands per run")
    print(f"  Pipeline.put + writer task, rules applied : {p:12,.0f} records/CPU s   runs: "
          f"{', '.join(f'{x:,.0f}' for x in piped)}")
    print(f"  bare deque + batching consumer, no rules  : {b:12,.0f} records/CPU s")
    print(f"  ratio pipeline/bare: {p / b:.3f}   ({1e6 / p:.2f} us a record vs {1e6 / b:.2f} us)")
    report = Report("bench_pipeline", mode, params={"devices": DEVICES, "points": POINTS, "cycles": count,
                                                      "repeats": repeats})
    report.add(Figure(
        id="pipeline.throughput", title="Pipeline (rules applied) into a stub outbox", value=p, unit="records/CPU s",
        baseline=b, baseline_title="bare deque + batching consumer, no rules", runs=piped, floor=0.13,
        note=f"{1e6 / p:.2f} us a record vs {1e6 / b:.2f} us; {suppressed:,} of {total:,} suppressed by deadbands"))
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
