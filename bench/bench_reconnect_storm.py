"""Reconnect storm: N gateways (Uplink instances in one process, each with its own small in-memory
outbox) against a real broker that restarts. Measured with the jittered reconnect (uplink defaults:
first attempt uniform(0, reconnect_window_s), then full-jitter back-off) and without jitter (every
gateway retries at the same instants), in one run:

- peak connects/s (1 s bins, from each client's CONNACK time),
- time from the broker's restart until every gateway is connected again,
- time until the backlog (records accepted while the broker was down) is drained, and that every
  record arrived (PUBACKed).

Usage: python bench/bench_reconnect_storm.py [--gateways 1000] [--window 10] [--broker mosquitto|nats]
[--plot storm.png]. Prints medians/ratios; ``--plot`` writes connects/s over time (needs matplotlib,
the rig's pinned matplotlib==3.11.2).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
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
from tests.fixtures.mosquitto import Mosquitto  # noqa: E402
from tests.fixtures.nats_cluster import NatsCluster  # noqa: E402


class MemOutbox:
    """A small outbox in memory (the bench measures the broker side; 1,000 SQLite files are not the point)."""

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
    """Records the time of every CONNACK."""

    connects: list[float]

    async def _connect(self, client: EdgeMqttClient) -> None:
        await super()._connect(client)
        self.connects.append(time.monotonic())


async def wait_for(predicate: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def storm(args: argparse.Namespace, jitter: bool, workdir: Path) -> dict[str, Any]:
    broker: Any
    if args.broker == "nats":
        broker = NatsCluster(workdir)
        ports = [n.mqtt_port for n in broker.nodes]
    else:
        broker = Mosquitto(workdir)
        ports = [broker.port]
    broker.start()
    outboxes = [MemOutbox() for _ in range(args.gateways)]
    uplinks: list[TimedUplink] = []
    for i, outbox in enumerate(outboxes):
        outbox.add(f"gw{i}", args.records)
        cfg = UplinkConfig(port=ports[i % len(ports)], protocol="3.1.1", client_id=f"storm-{i}", inflight=4,
                           keepalive_s=30, reconnect_min_s=1.0, reconnect_max_s=30.0,
                           reconnect_window_s=args.window, reconnect_jitter=jitter, puback_timeout_s=30.0)
        up = TimedUplink(cfg, OutboxConfig(live_window_s=3600), f"gw{i}", outbox)  # type: ignore[arg-type]
        up.connects = []
        uplinks.append(up)
    tasks = [asyncio.create_task(u.run()) for u in uplinks]
    try:
        await wait_for(lambda: all(o.deleted == args.records for o in outboxes), 300, "first drain")
        # The broker goes away; every gateway notices and keeps accepting records.
        if args.broker == "nats":
            for node in broker.nodes:
                node.kill9()
        else:
            broker.stop()
        await wait_for(lambda: not any(u.counters.connected for u in uplinks), 60, "all disconnected")
        for i, outbox in enumerate(outboxes):
            outbox.add(f"gw{i}", args.records)
        await asyncio.sleep(args.down_s)
        restart = time.monotonic()
        if args.broker == "nats":
            for node in broker.nodes:
                node.start()
        else:
            broker.start()
        all_back = await wait_for(lambda: all(u.counters.connected for u in uplinks), 600, "all reconnected")
        drained = await wait_for(lambda: all(o.deleted == 2 * args.records for o in outboxes), 600, "drain")
        times = sorted(t - restart for u in uplinks for t in u.connects if t >= restart)
        bins = collections.Counter(int(t) for t in times)
        lost = sum(len(o.records) for o in outboxes)
        return {"jitter": jitter, "peak": max(bins.values()), "all_back_s": all_back, "drained_s": all_back + drained,
                "connects": len(times), "lost": lost, "series": sorted(bins.items())}
    finally:
        for u in uplinks:
            await u.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        broker.stop()


def plot(results: list[dict[str, Any]], path: str, gateways: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for r in results:
        xs = [x for x, _ in r["series"]]
        ys = [y for _, y in r["series"]]
        ax.step(xs, ys, where="post", label="with jitter" if r["jitter"] else "without jitter")
    ax.set_xlabel("seconds after the broker restarted")
    ax.set_ylabel("connects/s")
    ax.set_title(f"Reconnect storm: {gateways} gateways")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, default=1000)
    parser.add_argument("--records", type=int, default=20, help="records per gateway before and during the outage")
    parser.add_argument("--window", type=float, default=10.0, help="uplink.reconnect_window_s")
    parser.add_argument("--down-s", type=float, default=2.0)
    parser.add_argument("--broker", choices=["mosquitto", "nats"], default="mosquitto")
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for jitter in (True, False):
            results.append(await storm(args, jitter, Path(tmp) / ("jitter" if jitter else "lockstep")))
    print(f"{args.gateways} gateways on {args.broker}, reconnect_window_s={args.window}, "
          f"{args.records} records each before and during a {args.down_s} s outage")
    for r in results:
        print(f"  {'with jitter   ' if r['jitter'] else 'without jitter'}: peak {r['peak']} connects/s, "
              f"all back in {r['all_back_s']:.1f} s, backlog drained in {r['drained_s']:.1f} s, "
              f"{r['connects']} connects, {r['lost']} records not delivered")
    with_j, without = results
    print(f"  peak ratio with/without jitter: {with_j['peak'] / without['peak']:.2f}; "
          f"expected peak with jitter ~ gateways/window = {args.gateways / args.window:.0f}/s")
    if args.plot:
        plot(results, args.plot, args.gateways)
        print(f"  plot: {args.plot}")


if __name__ == "__main__":
    asyncio.run(main())
