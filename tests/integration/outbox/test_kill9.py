"""kill -9 right after ``accept`` returned: every seq up to the last acknowledged one is on disk."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox

REPO = Path(__file__).resolve().parents[3]

CHILD = """
import asyncio, sys, time
from pathlib import Path
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading

async def main() -> None:
    outbox = await Outbox.open(Path(sys.argv[1]), OutboxConfig(durability=sys.argv[2]), "gw-kill")

    async def producer(p: int) -> None:
        i = 0
        while True:
            i += 1
            seqs = await outbox.accept([Reading(f"d{p}", "v", float(i), time.time()) for _ in range(20)])
            print(max(seqs), flush=True)  # acknowledged: committed

    await asyncio.gather(*(producer(p) for p in range(8)))

asyncio.run(main())
"""


def _run_and_kill(state: Path, durability: str, acks_before_kill: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state), durability], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    assert child.stdout is not None
    acked = 0
    try:
        for _ in range(acks_before_kill):
            line = child.stdout.readline()
            assert line, "child exited early"
            acked = max(acked, int(line))
        child.send_signal(signal.SIGKILL)  # real SIGKILL while the producers keep committing
    finally:
        child.kill()
        child.wait(timeout=30)
    # lines already in the pipe were acknowledged before the kill too
    for line in child.stdout:
        acked = max(acked, int(line))
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return acked


async def _seqs_on_disk(state: Path) -> list[int]:
    outbox = await Outbox.open(state, OutboxConfig(), "gw-kill")
    try:
        return [r.seq async for r in outbox.export(page=5000)]
    finally:
        await outbox.close()


async def test_kill9_loses_no_acknowledged_record_power_safe(tmp_path: Path) -> None:
    acked = await asyncio.to_thread(_run_and_kill, tmp_path, "power-safe", 200)
    on_disk = await _seqs_on_disk(tmp_path)
    assert acked >= 200 * 20 // 8
    assert set(range(1, acked + 1)) <= set(on_disk)
    assert on_disk == sorted(set(on_disk))


async def test_kill9_twice_process_safe_seq_keeps_growing(tmp_path: Path) -> None:
    first = await asyncio.to_thread(_run_and_kill, tmp_path, "process-safe", 100)
    second = await asyncio.to_thread(_run_and_kill, tmp_path, "process-safe", 100)
    on_disk = await _seqs_on_disk(tmp_path)
    assert second > first
    assert set(range(1, first + 1)) <= set(on_disk)
    # after each kill the next run starts above the seqs the killed one had reserved (it could have
    # handed them out to RAM-only records), and a lost_in_ram gap event accounts for them: every seq
    # up to the last acknowledged one is on disk or in such a range
    skipped = [range(int(g["first_seq"]), int(g["last_seq"]) + 1) for g in await _gaps(tmp_path, "lost_in_ram")]
    assert len(skipped) == 2  # the second run's start, and this check's own
    assert all(set(r).isdisjoint(on_disk) for r in skipped)
    assert set(range(1, second + 1)) <= set(on_disk).union(*skipped)


async def _gaps(state: Path, reason: str) -> list[dict[str, object]]:
    outbox = await Outbox.open(state, OutboxConfig(), "gw-kill")
    try:
        events = [r.body["data"] async for r in outbox.export() if r.body.get("kind") == "gap"]
        return [d for d in events if isinstance(d, dict) and d["reason"] == reason]
    finally:
        await outbox.close()


DRAIN_CHILD = """
import asyncio, sys, time
from pathlib import Path
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading

async def main() -> None:
    outbox = await Outbox.open(Path(sys.argv[1]), OutboxConfig(), "gw-kill")
    after = 0
    while True:  # drain like the uplink: page by seq, delete what the broker acknowledged
        page = await outbox.fetch(500, after_seq=after)
        if not page:
            await asyncio.sleep(0.01)
            continue
        after = page[-1].seq
        print("T", page[0].seq, after, flush=True)  # about to delete (may or may not land)
        await outbox.delete([r.seq for r in page])
        print("D", page[0].seq, after, flush=True)  # delete committed
        await outbox.accept([Reading("live", "v", 1.0, time.time()) for _ in range(50)])

asyncio.run(main())
"""


def _fill(state: Path, count: int) -> list[int]:
    async def fill() -> list[int]:
        from agent.records import Reading

        outbox = await Outbox.open(state, OutboxConfig(), "gw-kill")
        seqs: list[int] = []
        for _ in range(count // 1000):
            seqs += await outbox.accept([Reading("m1", "v", 1.0, 0.0) for _ in range(1000)])
        await outbox.close()
        return seqs

    return asyncio.run(fill())


def _drain_and_kill(state: Path, deletes_before_kill: int) -> tuple[set[int], set[int]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", DRAIN_CHILD, str(state)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    assert child.stdout is not None
    tried: set[int] = set()
    done: set[int] = set()
    seen = 0
    try:
        while seen < deletes_before_kill:
            line = child.stdout.readline()
            assert line, "child exited early"
            tag, lo, hi = line.split()
            (tried if tag == "T" else done).update(range(int(lo), int(hi) + 1))
            seen += tag == "D"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    for line in child.stdout:
        tag, lo, hi = line.split()
        (tried if tag == "T" else done).update(range(int(lo), int(hi) + 1))
    child.stdout.close()
    return tried, done


async def test_kill9_while_draining_loses_nothing_not_acknowledged(tmp_path: Path) -> None:
    filled = await asyncio.to_thread(_fill, tmp_path, 20_000)
    tried, done = await asyncio.to_thread(_drain_and_kill, tmp_path, 15)
    on_disk = set(await _seqs_on_disk(tmp_path))
    assert done and done <= tried
    assert not (on_disk & done)  # a delete that returned is durable
    assert set(filled) - tried <= on_disk  # nothing that was not being deleted went missing
