"""Drain a backlog from the real Outbox to a local mosquitto at QoS 1.

Three contenders on the same backlog (a copy of one filled outbox database), same broker, same run:

- **uplink**: ``agent.uplink.Uplink`` as the agent runs it (batches of 500, 100 in flight, delete on
  PUBACK), once with plain JSON batches and once with zlib-compressed historical batches;
- **per-record baseline**: the same Uplink with ``batch_records=1`` (one MQTT message per record), run
  on fewer records and extrapolated to the full backlog (printed as such);
- **bare paho reference**: one thread, SELECT 10k rows by seq, orjson 500 records per message, paho
  QoS 1 with 100 in flight, wait for the PUBACKs, DELETE by seq (the issue's reference loop).

Prints medians over ``--repeats``, the ratios, and RSS before/peak/after each uplink drain.
Run: ``.venv/bin/python bench/bench_drain.py`` (1,000,000 records) or ``--quick`` (100,000).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink
from tests.fixtures.mosquitto import Mosquitto

GATEWAY = "gw-bench"
PROC = psutil.Process()


def rss_mb() -> float:
    return float(PROC.memory_info().rss) / 1e6


async def fill(state: Path, n: int) -> None:
    outbox = await Outbox.open(state, OutboxConfig(), GATEWAY)
    ts = time.time() - 3600
    step = 10_000
    for start in range(0, n, step):
        batch = [Reading(f"meter{i % 64}", "energy_kwh", i * 0.5, ts + i * 1e-3, unit="kWh")
                 for i in range(start, min(n, start + step))]
        await outbox.accept(batch)
    await outbox.close()


def copy_state(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


async def drain_uplink(state: Path, port: int, n: int, batch: int, compress: bool) -> tuple[float, float, float, float]:
    """Seconds to drain ``n`` records, RSS before/peak/after (MB)."""
    outbox = await Outbox.open(state, OutboxConfig(), GATEWAY)
    config = UplinkConfig(port=port, batch_records=batch, inflight=100, compress_backlog=compress)
    # The backlog was filled more than live_window_s ago, so it drains as historical batches.
    uplink = Uplink(config, OutboxConfig(live_window_s=0.5), GATEWAY, outbox)
    before = peak = rss_mb()
    t0 = time.perf_counter()
    task = asyncio.create_task(uplink.run())
    while uplink.counters.records_acked < n:
        if task.done():
            task.result()
            raise RuntimeError("uplink stopped early")
        await asyncio.sleep(0.02)
        peak = max(peak, rss_mb())
    elapsed = time.perf_counter() - t0
    await uplink.stop()
    await task
    left = (await outbox.stats()).records
    await outbox.close()
    if left:
        raise RuntimeError(f"{left} records left in the outbox")
    return elapsed, before, peak, rss_mb()


def drain_bare_paho(state: Path, port: int) -> float:
    """The issue's reference loop, reading the outbox's own table."""
    db = sqlite3.connect(state / "outbox.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho")
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = f"edgepost/{GATEWAY}/telemetry"
    t0 = time.perf_counter()
    after = 0
    while True:
        rows = db.execute(
            "SELECT seq, device, ts, body FROM records WHERE seq > ? ORDER BY seq LIMIT 10000", (after,)
        ).fetchall()
        if not rows:
            break
        infos = []
        for i in range(0, len(rows), 500):
            items = []
            for seq, dev, ts, body in rows[i : i + 500]:
                pt, v, u, q = orjson.loads(body)
                items.append({"seq": seq, "dev": dev, "pt": pt, "v": v, "u": u, "q": q, "ts": ts})
            payload = orjson.dumps({"gw": GATEWAY, "hist": True, "records": items})
            infos.append(client.publish(topic, payload, qos=1))
        for info in infos:
            info.wait_for_publish(30)
        after = rows[-1][0]
        db.execute("DELETE FROM records WHERE seq <= ?", (after,))
    elapsed = time.perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k records, 1 repeat")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    n = args.records or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 3)
    per_record_n = min(n, 5_000)

    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    try:
        with Mosquitto(work) as broker:
            seed = work / "seed"
            t0 = time.perf_counter()
            asyncio.run(fill(seed, n))
            print(f"filled {n:,} records in {time.perf_counter() - t0:.1f} s "
                  f"(outbox.db {(seed / 'outbox.db').stat().st_size / 1e6:.0f} MB)")
            small = work / "seed-small"
            asyncio.run(fill(small, per_record_n))

            results: dict[str, list[float]] = {"uplink_json": [], "uplink_zlib": [], "paho": [], "per_record": []}
            mem: list[tuple[float, float, float]] = []
            for r in range(repeats):
                state = copy_state(seed, work / "run")
                el, before, peak, after = asyncio.run(drain_uplink(state, broker.port, n, 500, compress=False))
                results["uplink_json"].append(el)
                mem.append((before, peak, after))
                state = copy_state(seed, work / "run")
                el, before, peak, after = asyncio.run(drain_uplink(state, broker.port, n, 500, compress=True))
                results["uplink_zlib"].append(el)
                mem.append((before, peak, after))
                state = copy_state(seed, work / "run")
                results["paho"].append(drain_bare_paho(state, broker.port))
                state = copy_state(small, work / "run")
                el, *_ = asyncio.run(drain_uplink(state, broker.port, per_record_n, 1, compress=False))
                results["per_record"].append(el * n / per_record_n)
                print(f"repeat {r + 1}: uplink json {results['uplink_json'][-1]:.2f} s, "
                      f"zlib {results['uplink_zlib'][-1]:.2f} s, bare paho {results['paho'][-1]:.2f} s, "
                      f"per-record (extrapolated) {results['per_record'][-1]:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n== drain {n:,} records to mosquitto at QoS 1 (medians of {repeats})")
    print(f"uplink, plain JSON batches : {med['uplink_json']:.2f} s  ({n / med['uplink_json']:,.0f} rec/s)")
    print(f"uplink, zlib backlog       : {med['uplink_zlib']:.2f} s  ({n / med['uplink_zlib']:,.0f} rec/s)")
    print(f"bare paho reference loop   : {med['paho']:.2f} s  ({n / med['paho']:,.0f} rec/s)")
    print(f"one message per record     : {med['per_record']:.1f} s  "
          f"(measured on {per_record_n:,} records, extrapolated to {n:,})")
    print(f"ratio uplink/paho reference: {med['uplink_json'] / med['paho']:.2f}x the time "
          f"(zlib: {med['uplink_zlib'] / med['paho']:.2f}x)")
    print(f"speed-up over one message per record: {med['per_record'] / med['uplink_json']:.1f}x")
    print(f"goal <= 6 s for 1M: uplink json {'MET' if med['uplink_json'] * 1e6 / n <= 6 else 'NOT met'} "
          f"(scaled to 1M: {med['uplink_json'] * 1e6 / n:.2f} s)")
    for before, peak, after in mem:
        print(f"RSS MB before {before:.0f}, peak {peak:.0f}, after {after:.0f}")


if __name__ == "__main__":
    main()
