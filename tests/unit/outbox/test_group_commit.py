"""Natural group commit: accepts that arrive during a commit share the next one, bounded by commit_batch;
no accept returns before its transaction committed."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading


def _readings(n: int) -> list[Reading]:
    return [Reading("m1", "v", float(i), time.time()) for i in range(n)]


async def _gated(tmp_path: Path, **config: Any) -> tuple[Outbox, threading.Event, list[int]]:
    """An outbox whose writer blocks inside its first commit until the gate opens."""
    outbox = await Outbox.open(tmp_path, OutboxConfig(**config), "gw1")
    engine = outbox._engine
    real_commit = engine.commit
    gate = threading.Event()
    sizes: list[int] = []

    def commit(accepts: Any, deletes: Any) -> Any:
        gate.wait(30)
        sizes.append(sum(len(a) for a in accepts))
        return real_commit(accepts, deletes)

    engine.commit = commit  # type: ignore[method-assign]
    return outbox, gate, sizes


async def test_accepts_queued_during_a_commit_share_the_next(tmp_path: Path) -> None:
    outbox, gate, sizes = await _gated(tmp_path)
    first = asyncio.create_task(outbox.accept(_readings(1)))
    await asyncio.sleep(0.05)  # the writer is now inside commit #1, held by the gate
    rest = [asyncio.create_task(outbox.accept(_readings(10))) for _ in range(20)]
    await asyncio.sleep(0.05)
    assert not first.done() and not any(t.done() for t in rest)  # nothing acknowledged before its commit
    gate.set()
    seqs = [await first] + [await t for t in rest]
    await outbox.close()
    assert sizes == [1, 200]  # 20 accepts, one transaction
    flat = [s for group in seqs for s in group]
    assert flat == list(range(flat[0], flat[0] + 201))


async def test_commit_batch_bounds_a_group(tmp_path: Path) -> None:
    outbox, gate, sizes = await _gated(tmp_path, commit_batch=25)
    first = asyncio.create_task(outbox.accept(_readings(1)))
    await asyncio.sleep(0.05)
    rest = [asyncio.create_task(outbox.accept(_readings(10))) for _ in range(7)]
    big = asyncio.create_task(outbox.accept(_readings(60)))  # larger than a batch: committed whole
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(first, big, *rest)
    await outbox.close()
    assert sizes == [1, 20, 20, 20, 10, 60]
