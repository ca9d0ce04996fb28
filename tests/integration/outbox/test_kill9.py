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
    assert {s for s in on_disk if s > first} >= set(range(min(s for s in on_disk if s > first), second + 1))
