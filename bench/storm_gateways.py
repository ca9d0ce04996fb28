"""One worker process of the reconnect-storm bench: ``--count`` gateways (real ``Uplink`` instances, each
with its own small in-memory outbox) in one asyncio loop.

Driven by bench_reconnect_storm.py over stdin/stdout, one JSON object per line:

- it prints ``{"connected": n, "drained": n, "acked": n}`` every 0.2 s (gateways connected now,
  gateways whose outbox is empty and whose every record was PUBACKed, records PUBACKed in all);
- a stdin line ``add`` gives every gateway ``--records`` more records; ``stop`` stops every uplink,
  prints the wall-clock times of every reconnect's scheduled instant, dial and CONNACK
  (``{"intended": [...], "attempts": [...], "connects": [...]}``) and exits.

Each gateway dials like a real box: its own thread for the blocking TCP connect (aiomqtt runs it in
the loop's default executor, six threads by default, which would queue a storm's connects behind
each other and bunch them in this process rather than at the broker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.outbox.api import OutboxStats, StoredRecord  # noqa: E402
from agent.outbox.config import OutboxConfig  # noqa: E402
from agent.records import Priority  # noqa: E402
from agent.uplink.config import UplinkConfig  # noqa: E402
from agent.uplink.mqtt_client import EdgeMqttClient  # noqa: E402
from agent.uplink.uplink import Uplink  # noqa: E402

STATUS_EVERY_S = 0.2


class MemOutbox:
    """A gateway's outbox in memory: 1,000 SQLite outboxes (three threads each) would measure the
    machine, not the broker. Seqs 1, 2, ... per gateway, as a real outbox gives them."""

    def __init__(self) -> None:
        self.records: dict[int, StoredRecord] = {}
        self.last_seq = 0
        self.deleted = 0
        self._new = asyncio.Event()

    def add(self, device: str, n: int) -> None:
        now = time.time()
        for _ in range(n):
            self.last_seq += 1
            body: dict[str, Any] = {"point": "lux", "value": self.last_seq, "unit": None, "quality": "good"}
            self.records[self.last_seq] = StoredRecord(self.last_seq, Priority.TELEMETRY, "reading", device, now, now,
                                                       body)
        self._new.set()

    async def fetch(self, limit: int, *, after_seq: int = 0, priority: Priority | None = None,
                    accepted_since: float | None = None, accepted_before: float | None = None,
                    max_body_bytes: int | None = None) -> list[StoredRecord]:
        out = []
        for seq in sorted(self.records):
            r = self.records[seq]
            if seq <= after_seq or (priority is not None and r.priority != priority):
                continue
            if accepted_since is not None and r.accepted_at < accepted_since:
                continue
            if accepted_before is not None and r.accepted_at >= accepted_before:
                continue
            out.append(r)
            if len(out) >= limit:
                break
        return out

    async def delete(self, seqs: Sequence[int]) -> None:
        for s in seqs:
            if self.records.pop(s, None) is not None:
                self.deleted += 1

    async def wait_for_records(self, after_seq: int, timeout: float | None = None) -> bool:
        if self.last_seq > after_seq:
            return True
        self._new.clear()
        try:
            await asyncio.wait_for(self._new.wait(), timeout)
        except TimeoutError:
            return False
        return self.last_seq > after_seq

    async def stats(self) -> OutboxStats:
        return OutboxStats(len(self.records), {}, None, 0, 0, 0, 0, self.last_seq, None)


class TimedUplink(Uplink):
    """Notes, in wall-clock time, when each reconnect was scheduled for (the back-off's choice), when the
    dial actually started (later if this process was starved) and when its CONNACK arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intended: list[float] = []
        self.attempts: list[float] = []
        self.connects: list[float] = []
        schedule = getattr(self, "_reconnect", None)  # None on code older than the reconnect schedule
        for name in ("after_drop", "after_failure"):
            if schedule is not None:
                setattr(schedule, name, self._noting(getattr(schedule, name)))

    def _noting(self, choose: Callable[[], float]) -> Callable[[], float]:
        def chosen() -> float:
            delay = choose()
            self.intended.append(time.time() + delay)
            return delay
        return chosen

    async def _connect(self, client: EdgeMqttClient) -> None:
        self.attempts.append(time.time())
        await super()._connect(client)
        self.connects.append(time.time())


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def commands() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    threads = args.dial_threads or args.count
    loop.set_default_executor(ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dial"))
    overrides = json.loads(args.config)
    ports = [int(p) for p in args.ports.split(",")]
    gateways = range(args.first, args.first + args.count)
    outboxes = {i: MemOutbox() for i in gateways}
    uplinks: dict[int, TimedUplink] = {}
    for i in gateways:
        outboxes[i].add(f"dev{i}", args.records)
        # The gateway's own node first, the other nodes of a cluster as failover brokers.
        mine = ports[i % len(ports)]
        brokers = [{"host": "127.0.0.1", "port": p} for p in ports if p != mine]
        cfg = UplinkConfig(port=mine, brokers=brokers, protocol="3.1.1", client_id=f"storm-{i}",
                           **overrides)
        up = TimedUplink(cfg, OutboxConfig(live_window_s=3600), f"gw{i}", outboxes[i])
        uplinks[i] = up
    tasks = []
    for up in uplinks.values():  # a fleet powers up over a second or two, not in one instant
        tasks.append(asyncio.create_task(up.run()))
        await asyncio.sleep(args.start_spread_s / args.count)
    reader = await commands()
    expected = args.records
    stopping = False

    async def status() -> None:
        while not stopping:
            emit({"connected": sum(u.counters.connected for u in uplinks.values()),
                  "drained": sum(not o.records and o.deleted == expected for o in outboxes.values()),
                  "acked": sum(o.deleted for o in outboxes.values())})
            await asyncio.sleep(STATUS_EVERY_S)

    reporter = asyncio.create_task(status())
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "add":
            expected += args.records
            for i, outbox in outboxes.items():
                outbox.add(f"dev{i}", args.records)
        elif line in ("stop", ""):
            break
    stopping = True
    await reporter
    for up in uplinks.values():
        await up.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    emit({"connects": [t for up in uplinks.values() for t in up.connects],
          "attempts": [t for up in uplinks.values() for t in up.attempts],
          "intended": [t for up in uplinks.values() for t in up.intended]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, required=True, help="index of this worker's first gateway")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--records", type=int, required=True, help="records per gateway per 'add'")
    parser.add_argument("--ports", required=True, help="broker ports on 127.0.0.1, comma-separated")
    parser.add_argument("--config", default="{}", help="UplinkConfig fields as JSON")
    parser.add_argument("--start-spread-s", type=float, default=2.0)
    parser.add_argument("--dial-threads", type=int, default=0,
                        help="threads for the blocking connects (0: one per gateway; asyncio's default is 6)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
