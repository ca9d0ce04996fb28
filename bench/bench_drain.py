"""Drain a backlog from the real Outbox to a local mosquitto at QoS 1 (P4).

Contenders on the same backlog (a copy of one filled outbox database), same broker, same run,
interleaved, each in plain JSON batches and in zlib-compressed ones (the uplink's default for a backlog):

- **uplink**: ``agent.uplink.Uplink`` as the agent runs it (batches of 500, 100 in flight, MQTT 5,
  delete on PUBACK through the outbox's writer);
- **best bare paho loop** (``_bare_drain.py``): pages of 10k rows read and encoded ahead by their
  own thread, 100 QoS 1 messages in flight (MQTT 5, the same payload and content type), deletes of
  acknowledged seqs overlapped on a third thread with its own connection; no agent code at all;
- **per-record**: the Uplink with ``batch_records=1``, on fewer records, extrapolated (for scale).

Prints medians, ratios uplink/bare (time), and RSS before/peak/after each drain (flat memory:
the peak's growth over the start, against the bare loop's).

    .venv/bin/python bench/bench_drain.py [--smoke | --quick] [--records N] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _bare_drain import drain_bare
from _results import Figure, Report, add_mode_args, mode_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink
from tests.fixtures.mosquitto import Mosquitto

GATEWAY = "gw-bench"
PROC = psutil.Process()
GOAL_RATIO = 0.8
DUPLICATES: list[int] = []  # records the uplink published twice in one session, per drain


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


async def drain_uplink(state: Path, port: int, n: int, batch: int, compress: bool) -> tuple[float, float, float]:
    """Seconds to drain ``n`` records, RSS growth at the peak and after (MB)."""
    outbox = await Outbox.open(state, OutboxConfig(), GATEWAY)
    config = UplinkConfig(port=port, batch_records=batch, inflight=100, compress_backlog=compress)
    # The backlog was filled more than live_window_s ago, so it drains as historical batches.
    uplink = Uplink(config, OutboxConfig(live_window_s=0.5), GATEWAY, outbox)
    before = peak = rss_mb()
    t0 = time.perf_counter()
    task = asyncio.create_task(uplink.run())
    while True:
        if task.done():
            task.result()
            raise RuntimeError("uplink stopped early")
        await asyncio.sleep(0.02)
        peak = max(peak, rss_mb())
        # done when every record is deleted (a record sent twice counts twice in records_acked)
        if uplink.counters.records_acked >= n and not (await outbox.stats()).records:
            break
    elapsed = time.perf_counter() - t0
    await uplink.stop()
    await task
    DUPLICATES.append(uplink.counters.records_acked - n)
    await outbox.close()
    return elapsed, peak - before, rss_mb() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_mode_args(parser)
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    mode = mode_of(args)
    n = args.records or {"smoke": 20_000, "quick": 100_000, "full": 1_000_000}[mode]
    repeats = args.repeats or (1 if mode == "quick" else 3)  # smoke: 3 short ones, a median
    per_record_n = min(n, 300 if mode == "smoke" else 5_000)
    kinds = ("json",) if mode == "smoke" else ("json", "zlib")

    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    times: dict[str, list[float]] = {f"{who}_{k}": [] for who in ("uplink", "bare") for k in kinds}
    times["per_record"] = []
    growth: dict[str, list[float]] = {"uplink": [], "bare": []}
    try:
        with Mosquitto(work) as broker:
            seed = work / "seed"
            t0 = time.perf_counter()
            asyncio.run(fill(seed, n))
            print(f"filled {n:,} records in {time.perf_counter() - t0:.1f} s "
                  f"(outbox.db {(seed / 'outbox.db').stat().st_size / 1e6:.0f} MB)")
            small = work / "seed-small"
            asyncio.run(fill(small, per_record_n))
            for r in range(repeats):
                for kind in kinds:
                    compress = kind == "zlib"
                    state = copy_state(seed, work / "run")
                    el, peak, _ = asyncio.run(drain_uplink(state, broker.port, n, 500, compress))
                    times[f"uplink_{kind}"].append(el)
                    growth["uplink"].append(peak)
                    state = copy_state(seed, work / "run")
                    before = rss_mb()
                    el, peak_mb = drain_bare(state, broker.port, GATEWAY, n, compress, rss_mb)
                    times[f"bare_{kind}"].append(el)
                    growth["bare"].append(peak_mb - before)
                state = copy_state(small, work / "run")
                el, *_ = asyncio.run(drain_uplink(state, broker.port, per_record_n, 1, compress=False))
                times["per_record"].append(el * n / per_record_n)
                print(f"repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n== drain {n:,} records to mosquitto at QoS 1, medians of {repeats} ({mode})")
    report = Report("bench_drain", mode, params={"records": n, "repeats": repeats})
    for kind in kinds:
        up, bare = med[f"uplink_{kind}"], med[f"bare_{kind}"]
        print(f"{kind:5s}: uplink {up:.2f} s ({n / up:,.0f} rec/s), best bare paho loop {bare:.2f} s "
              f"({n / bare:,.0f} rec/s): uplink/bare {up / bare:.2f}x the time (goal <= {GOAL_RATIO})")
        report.add(Figure(
            id=f"drain.{kind}", title=f"drain {n:,} records, {kind} batches: time", value=up, unit="s",
            baseline=bare, baseline_title="best bare paho loop", better="lower",
            goal=f"<= {GOAL_RATIO}x the bare loop's time (1M records), flat memory", goal_id="P4",
            goal_met=up / bare <= GOAL_RATIO if n == 1_000_000 else None, runs=times[f"uplink_{kind}"], floor=2.5,
            note=f"{n / up:,.0f} records/s vs {n / bare:,.0f}"))
    if any(DUPLICATES):
        print(f"records the uplink published twice in one session, per drain: {DUPLICATES}")
        report.note(f"the uplink published records twice within one session: {DUPLICATES} per drain")
    up_growth, bare_growth = max(growth["uplink"]), max(growth["bare"])
    print(f"RSS growth at the peak of a drain: uplink +{up_growth:.1f} MB, bare loop +{bare_growth:.1f} MB")
    report.add(Figure(
        id="drain.memory", title=f"RSS growth at the peak of a {n:,}-record drain (uplink)", value=up_growth,
        unit="MB", baseline=bare_growth, baseline_title="same for the bare loop", better="lower",
        note="largest over the repeats"))
    print(f"one message per record: {med['per_record']:.1f} s (measured on {per_record_n:,}, extrapolated)")
    report.add(Figure(
        id="drain.per_record", title="one message per record (extrapolated)", value=med["per_record"], unit="s",
        baseline=med[f"uplink_{kinds[0]}"], baseline_title="uplink, batches of 500", better="lower",
        note=f"measured on {per_record_n:,} records"))
    report.write(args.json)


if __name__ == "__main__":
    main()
