"""A seq is never given to two different records, across kill -9 while the outbox runs degraded.

Records accepted while the disk refuses writes live only in RAM and go upstream with ``"ram": true``.
If the agent dies then, a restart must not hand their seqs to other records: a consumer that dedups
by (gateway, seq) would drop the new record as a duplicate. Real child processes with a real uplink,
real SIGKILL, a real read-only or full tmpfs and a real mosquitto; the broker's view is checked: no
seq arrives with two different contents, and every seq arrives or a gap event accounts for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson

from agent.outbox.config import FullPolicy, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink
from tests.fixtures.mosquitto import Collector, Mosquitto
from tests.integration.outbox.conftest import TinyFs

REPO = Path(__file__).resolve().parents[3]
GATEWAY = "gw-crash"
DEADLINE_S = 60.0

CHILD = """
import asyncio, sys, time
from pathlib import Path
import orjson
from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink

async def main() -> None:
    state, port, tag, policy = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    pad, retry_s = int(sys.argv[5]), float(sys.argv[6])
    config = OutboxConfig(full_policy=policy, degraded_retry_s=retry_s)
    outbox = await Outbox.open(state, config, "gw-crash")
    # one gateway allowed 1,000 connects/s: a reconnect spread window of ~1 ms, the back-off alone
    uplink_config = UplinkConfig(port=port, reconnect_fleet_size=1, reconnect_max_rate=1000.0, reconnect_min_s=0.1)
    uplink = Uplink(uplink_config, config, "gw-crash", outbox)
    task = asyncio.create_task(uplink.run())
    i = 0
    while not task.done():
        i += 1
        now = time.time()
        seqs = await outbox.accept([Reading(tag, "n", float(i), now), Reading(tag, "pad", "x" * pad, now)])
        degraded = (await outbox.stats()).degraded is not None
        print(orjson.dumps({"seqs": seqs, "degraded": degraded}).decode(), flush=True)
        await asyncio.sleep(0.02)
    task.result()

asyncio.run(main())
"""


class Child:
    """One agent-like process (outbox + uplink) accepting records tagged ``tag`` until killed."""

    def __init__(
        self, state: Path, port: int, tag: str, policy: FullPolicy, pad: int = 10, retry_s: float = 0.2
    ) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(state), str(port), tag, policy.value, str(pad), str(retry_s)],
            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        self.lines: list[dict[str, object]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(orjson.loads(line))

    @property
    def seqs(self) -> list[int]:
        return [s for line in self.lines for s in line["seqs"] if s is not None]  # type: ignore[attr-defined]

    def wait(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert self.proc.poll() is None, f"the child exited with {self.proc.returncode}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL


def upstream(sub: Collector) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for m in sub.snapshot():
        if m.topic.endswith(("/telemetry", "/events")):
            payload = m.payload if m.payload[:1] == b"{" else zlib.decompress(m.payload)
            out.extend(orjson.loads(payload)["records"])
    return out


def delivered(sub: Collector, seqs: list[int]) -> Callable[[], bool]:
    return lambda: set(seqs) <= {int(r["seq"]) for r in upstream(sub)}  # type: ignore[call-overload]


async def drain(state: Path, port: int, config: OutboxConfig) -> list[int]:
    """A last, clean run on the writable disk: accept a few records, deliver everything, stop."""
    outbox = await Outbox.open(state, config, GATEWAY)
    try:
        last = await outbox.accept([Reading("final", "n", float(i), time.time()) for i in range(5)])
        uplink_config = UplinkConfig(port=port, reconnect_fleet_size=1, reconnect_max_rate=1000.0)  # ~1 ms spread
        uplink = Uplink(uplink_config, config, GATEWAY, outbox)
        task = asyncio.create_task(uplink.run())
        try:
            deadline = time.monotonic() + DEADLINE_S
            while (await outbox.stats()).records > 0:
                assert time.monotonic() < deadline, "the outbox did not drain"
                await asyncio.sleep(0.1)
        finally:
            await uplink.stop()
            await asyncio.wait_for(task, 20)
    finally:
        await outbox.close()
    return [s for s in last if s is not None]


def check_upstream(records: list[dict[str, object]]) -> tuple[dict[int, dict[str, object]], list[dict[str, object]]]:
    """No seq with two different contents; every seq up to the last arrived or a gap event counts it."""
    first: dict[int, dict[str, object]] = {}
    clashes: list[str] = []
    for r in records:
        content = {k: v for k, v in r.items() if k != "ram"}  # a RAM copy may arrive again from disk
        seen = first.setdefault(int(r["seq"]), content)  # type: ignore[call-overload]
        if seen != content:
            clashes.append(f"seq {r['seq']}: {seen} and {content}")
    assert clashes == [], f"{len(clashes)} seqs were given to two different records: {clashes[:3]}"
    gaps = [r for r in records if r.get("ev") == "gap"]
    budget = sum(int(g["data"]["count"]) for g in gaps)  # type: ignore[index,call-overload]
    expected, missing = 1, 0
    for seq in sorted(first):
        missing += seq - expected
        expected = seq + 1
    assert missing <= budget, f"{missing} seqs neither arrived nor were explained by gap events ({budget})"
    return first, gaps


async def test_kill9_on_a_read_only_state_dir_never_reuses_a_seq(tiny_fs: TinyFs, tmp_path: Path) -> None:
    """kill -9, restart onto a read-only state dir (the kernel remounted the SD card), kill -9 there
    twice, then the disk is writable again: the two read-only runs must not share seqs."""
    policy = FullPolicy.EVICT_OLDEST_TELEMETRY
    with Mosquitto(tmp_path) as broker, broker.collector(f"edgepost/{GATEWAY}/#") as sub:
        healthy = Child(tiny_fs.path, broker.port, "healthy", policy)
        healthy.wait("records on disk, delivered", lambda: len(healthy.seqs) >= 20 and delivered(sub, healthy.seqs)())
        healthy.kill9()
        tiny_fs.remount("ro")
        runs = []
        for tag in ("ro-1", "ro-2"):
            run = Child(tiny_fs.path, broker.port, tag, policy)
            run.wait("accepts answered on the read-only disk", lambda run=run: len(run.lines) >= 20)  # type: ignore[misc]
            assert all(line["degraded"] for line in run.lines)
            run.wait("what got a seq to be delivered", lambda run=run: delivered(sub, run.seqs)())  # type: ignore[misc]
            run.kill9()
            runs.append(run)
        tiny_fs.remount("rw")
        final = await drain(tiny_fs.path, broker.port, OutboxConfig(full_policy=policy))
        await asyncio.to_thread(sub.wait_for, lambda _: delivered(sub, final)(), DEADLINE_S)
        received, _ = check_upstream(upstream(sub))
    assert set(healthy.seqs) <= set(received)
    assert min(final) > max(healthy.seqs)


async def test_kill9_while_the_disk_is_full_never_reuses_a_seq(tiny_fs: TinyFs, tmp_path: Path) -> None:
    """The disk fills up under a running agent (reject-new: nothing to evict), records go on into RAM
    and upstream; kill -9; the disk is freed and the agent restarted: its new records must get new
    seqs, and the RAM records' seqs are accounted for by a gap event."""
    policy = FullPolicy.REJECT_NEW
    with Mosquitto(tmp_path) as broker, broker.collector(f"edgepost/{GATEWAY}/#") as sub:
        # no disk retry before the kill: the ballast file it would free would end the fault at once
        first = Child(tiny_fs.path, broker.port, "first", policy, pad=20_000, retry_s=3600)
        first.wait("records on disk", lambda: len(first.seqs) >= 10)
        tiny_fs.fill()
        first.wait("records accepted into RAM", lambda: sum(
            1 for line in first.lines if line["degraded"] and None not in line["seqs"]  # type: ignore[operator]
        ) >= 10)
        in_ram = first.seqs
        first.wait("the RAM records delivered", delivered(sub, in_ram))
        assert first.lines[-1]["degraded"]  # still only in RAM when it dies
        first.kill9()
        tiny_fs.free()
        second = Child(tiny_fs.path, broker.port, "second", policy)
        second.wait("new records delivered", lambda: len(second.seqs) >= 10 and delivered(sub, second.seqs)())
        second.kill9()
        final = await drain(tiny_fs.path, broker.port, OutboxConfig(full_policy=policy))
        await asyncio.to_thread(sub.wait_for, lambda _: delivered(sub, final)(), DEADLINE_S)
        records = upstream(sub)
        received, gaps = check_upstream(records)
    assert any(r.get("ram") is True and r.get("dev") == "first" for r in records)  # the RAM path was taken
    assert set(first.seqs) | set(second.seqs) <= set(received)
    assert min(second.seqs) > max(first.seqs)
    assert any(g["data"]["reason"] == "lost_in_ram" for g in gaps)  # type: ignore[index]
