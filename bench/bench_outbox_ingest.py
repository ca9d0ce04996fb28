"""Outbox ingest, power-safe (P3): records/s into the SQLite outbox, two ways, wall clock.

- **production path**: drivers' readings through the ``Pipeline`` (rules, its bounded queue, its one
  writer task with one accept in flight) into the real ``Outbox``: what the agent does. 32 device
  tasks each ``await pipeline.put(reading)`` one reading at a time.
- **32 producers**: ``Outbox.accept`` called by 32 concurrent tasks with 100 records each (group commit
  with many accepts in flight; no pipeline).

Baselines measured in the same run, interleaved, on the same disk, same durability (WAL +
synchronous=FULL):
- naive: one INSERT + COMMIT per record (what group commit avoids);
- bare: sqlite3 ``executemany`` in transactions of 2,000 pre-built rows into the outbox's own schema
  (the ceiling, no agent in between).

    .venv/bin/python bench/bench_outbox_ingest.py [--smoke | --quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from _results import Figure, Report, add_mode_args, mode_of

from agent.outbox import schema
from agent.outbox.codec import encode
from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.pipeline.pipeline import Pipeline
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


async def _pipeline_run(total: int, producers: int, per_cycle: int) -> float:
    """Readings put one at a time by ``producers`` device tasks, through the Pipeline into the Outbox."""
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        outbox = await Outbox.open(Path(tmp), OutboxConfig(durability=Durability.POWER_SAFE), "bench")
        pipeline = Pipeline(outbox, heartbeat_s=300.0, queue_size=10_000)  # the agent's defaults
        writer = asyncio.create_task(pipeline.run())
        per = total // producers
        work = [_readings(per_cycle, f"dev{p}") for p in range(producers)]

        async def device(p: int) -> None:
            for _ in range(per // per_cycle):
                for reading in work[p]:
                    await pipeline.put(reading)

        t0 = time.perf_counter()
        await asyncio.gather(*(device(p) for p in range(producers)))
        if not await pipeline.drain(timeout_s=300):
            raise RuntimeError("the pipeline did not drain")
        elapsed = time.perf_counter() - t0
        writer.cancel()
        accepted = pipeline.counters.accepted
        await outbox.close()
        if accepted != producers * (per // per_cycle) * per_cycle:
            raise RuntimeError(f"{accepted} records accepted")
        return accepted / elapsed


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
    add_mode_args(parser)
    parser.add_argument("--producers", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100, help="records per accept call")
    args = parser.parse_args()
    mode = mode_of(args)
    repeats, total, naive_total = {"smoke": (3, 20_000, 100), "quick": (3, 60_000, 500),
                                   "full": (5, 300_000, 2_000)}[mode]

    results: dict[str, list[float]] = {"pipeline": [], "outbox": [], "naive": [], "bare": []}
    for _ in range(repeats):  # interleaved, so load from other processes hits all of them alike
        results["pipeline"].append(asyncio.run(_pipeline_run(total, args.producers, args.batch)))
        results["outbox"].append(asyncio.run(_outbox_run(total, args.producers, args.batch)))
        results["naive"].append(_naive_run(naive_total))
        results["bare"].append(_bare_run(total))
    pl, ob, nv, br = (statistics.median(results[k]) for k in ("pipeline", "outbox", "naive", "bare"))

    def runs(key: str) -> str:
        return ", ".join(f"{x:,.0f}" for x in results[key])

    print(f"outbox ingest, power-safe, {total:,} records, {repeats} interleaved repeats ({mode}):")
    print(f"  production path: Pipeline -> Outbox, {args.producers} devices putting one reading at a time: "
          f"median {pl:,.0f} records/s   runs: {runs('pipeline')}")
    print(f"  Outbox.accept, {args.producers} producers x {args.batch}/accept: median {ob:,.0f} records/s   "
          f"runs: {runs('outbox')}")
    print(f"  naive one commit per record ({naive_total} records): median {nv:,.0f} records/s")
    print(f"  bare sqlite3 executemany, 2000/tx, outbox schema v{schema.SCHEMA_VERSION}: median {br:,.0f} records/s")
    print(f"  production/bare {pl / br:.2f}, 32 producers/bare {ob / br:.2f}, production/naive {pl / nv:.0f}x; "
          f"goal P3 300,000/s through the production path: {'met' if pl >= 300_000 else 'NOT met'}")
    report = Report("bench_outbox_ingest", mode, params={"records": total, "producers": args.producers,
                                                           "batch": args.batch, "repeats": repeats})
    report.add(Figure(
        id="ingest.production", title="production path: Pipeline -> Outbox (power-safe)", value=pl,
        unit="records/s", baseline=br, baseline_title="bare sqlite3 executemany, same schema and durability",
        goal=">= 300,000 records/s", goal_id="P3", goal_met=pl >= 300_000, runs=results["pipeline"], floor=0.25))
    report.add(Figure(
        id="ingest.producers", title=f"Outbox.accept, {args.producers} producers x {args.batch}", value=ob,
        unit="records/s", baseline=br, baseline_title="bare sqlite3 executemany, same schema and durability",
        runs=results["outbox"], floor=0.3))
    report.add(Figure(
        id="ingest.vs_naive", title="production path over one commit per record", value=pl, unit="records/s",
        baseline=nv, baseline_title="naive: one INSERT + COMMIT per record", runs=results["naive"]))
    report.write(args.json)


if __name__ == "__main__":
    main()
