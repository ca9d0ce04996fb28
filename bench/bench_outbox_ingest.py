"""Outbox ingest, power-safe: records/s through ``Outbox.accept`` with many concurrent producers.

Baselines measured in the same run, on the same disk, same durability (WAL + synchronous=FULL):
- naive: one INSERT + COMMIT per record (what group commit avoids);
- bare: sqlite3 ``executemany`` in transactions of 2,000 pre-built rows into the outbox's own schema
  (the ceiling, no agent in between).

    .venv/bin/python bench/bench_outbox_ingest.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from agent.outbox import schema
from agent.outbox.codec import encode
from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Quality, Reading

# the outbox's own schema (every migration script up to the current version): same table, same indexes
_SCHEMA = "".join(schema._script(v) for v in range(1, schema.SCHEMA_VERSION + 1))
_INSERT = "INSERT INTO records VALUES (?,?,?,?,?,?,?)"


def _readings(n: int, device: str) -> list[Reading]:
    now = time.time()
    return [Reading(device, f"p{i % 16}", float(i), now, "kWh", Quality.GOOD) for i in range(n)]


async def _outbox_run(total: int, producers: int, batch: int) -> float:
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        outbox = await Outbox.open(Path(tmp), OutboxConfig(durability=Durability.POWER_SAFE), "bench")
        per = total // producers
        work = [_readings(batch, f"dev{p}") for p in range(producers)]

        async def producer(p: int) -> None:
            for _ in range(per // batch):
                await outbox.accept(work[p])

        t0 = time.perf_counter()
        await asyncio.gather(*(producer(p) for p in range(producers)))
        elapsed = time.perf_counter() - t0
        await outbox.close()
        return producers * (per // batch) * batch / elapsed


def _open_bare(tmp: str) -> sqlite3.Connection:
    conn = sqlite3.connect(Path(tmp) / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(_SCHEMA)
    return conn


def _naive_run(total: int) -> float:
    rows = [(i + 1, *encode(r)[:4], time.time(), encode(r)[4]) for i, r in enumerate(_readings(total, "dev"))]
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        conn = _open_bare(tmp)
        t0 = time.perf_counter()
        for row in rows:
            conn.execute("BEGIN")
            conn.execute(_INSERT, row)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.close()
    return total / elapsed


def _bare_run(total: int, tx: int = 2000) -> float:
    now = time.time()
    rows = [(i + 1, *encode(r)[:4], now, encode(r)[4]) for i, r in enumerate(_readings(total, "dev"))]
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        conn = _open_bare(tmp)
        t0 = time.perf_counter()
        for i in range(0, total, tx):
            conn.execute("BEGIN")
            conn.executemany(_INSERT, rows[i : i + tx])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.close()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--producers", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100, help="records per accept call")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    total = 60_000 if args.quick else 300_000
    naive_total = 500 if args.quick else 2_000

    outbox: list[float] = []
    naive: list[float] = []
    bare: list[float] = []
    for _ in range(repeats):  # interleaved, so load from other processes hits all three alike
        outbox.append(asyncio.run(_outbox_run(total, args.producers, args.batch)))
        naive.append(_naive_run(naive_total))
        bare.append(_bare_run(total))
    ob, nv, br = (statistics.median(x) for x in (outbox, naive, bare))
    print(f"outbox accept (power-safe, {args.producers} producers x {args.batch}/accept, {total} records):")
    print(f"  median {ob:,.0f} records/s   runs: {', '.join(f'{x:,.0f}' for x in outbox)}")
    print(f"naive one commit per record ({naive_total} records): median {nv:,.0f} records/s")
    print(f"bare sqlite3 executemany, 2000/tx, outbox schema v{schema.SCHEMA_VERSION} ({total} records): "
          f"median {br:,.0f} records/s")
    print(f"ratio outbox/naive: {ob / nv:.1f}x   outbox/bare: {ob / br:.2f}   goal 300,000/s: "
          f"{'met' if ob >= 300_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
