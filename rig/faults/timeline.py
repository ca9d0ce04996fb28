"""Run a scenario's timeline: every entry at its time (seeded random times where asked), each
injection logged with its start, end and outcome; a failing injector fails its entry, not the run."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

from agent.errors import EdgepostError
from rig.faults.context import FaultContext, Skip
from rig.faults.registry import INJECTORS
from rig.observe.faultlog import FaultLog, FaultRecord
from rig.scenario.faults import FaultBase


def schedule(timeline: Sequence[FaultBase], seed: int) -> list[tuple[float, FaultBase]]:
    """(offset seconds, entry) for every injection, sorted by time; the same seed gives the same plan."""
    rng = random.Random(seed)
    plan: list[tuple[float, FaultBase]] = []
    for entry in timeline:
        if entry.random_within_s is None:
            plan += [(entry.at + i * entry.for_s, entry) for i in range(entry.repeat)]
        else:
            plan += [(entry.at + rng.uniform(0, entry.random_within_s), entry) for _ in range(entry.repeat)]
    return sorted(plan, key=lambda item: item[0])


async def run_timeline(ctx: FaultContext, timeline: Sequence[FaultBase], seed: int, t0: float,
                       log: FaultLog) -> None:
    async with asyncio.TaskGroup() as group:
        for offset, entry in schedule(timeline, seed):
            group.create_task(_inject_at(ctx, entry, t0 + offset, log))


async def _inject_at(ctx: FaultContext, entry: FaultBase, when: float, log: FaultLog) -> None:
    await asyncio.sleep(max(0.0, when - time.time()))
    kind = str(getattr(entry, "fault", type(entry).__name__))
    record = log.add(FaultRecord(kind, time.time(), time.time()))
    try:
        outcome = await INJECTORS[kind](ctx, entry)
    except Skip as exc:
        record.status, record.detail = "skipped", str(exc)
    except (EdgepostError, OSError) as exc:
        record.status, record.detail = "failed", f"the rig could not inject it: {exc}"
    else:
        record.detail, record.problems = outcome.detail, outcome.problems
    record.end = time.time()
