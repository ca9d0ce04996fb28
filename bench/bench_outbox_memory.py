"""Outbox memory: RSS before and after queueing N records, and its peak while paging through them.

Baseline in the same run: the RSS growth of holding the same N readings in a Python list (what
an in-memory queue would cost). The outbox should stay flat: its growth / the list's is the ratio.

    .venv/bin/python bench/bench_outbox_memory.py [--smoke | --quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from pathlib import Path

import psutil
from _results import Figure, Report, add_mode_args, mode_of

from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading

MIB = 1 << 20


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def _batch(n: int, start: int) -> list[Reading]:
    now = time.time()
    return [Reading(f"dev{i % 50}", f"p{i % 16}", float(start + i), now, "kWh") for i in range(n)]


async def _outbox(total: int) -> dict[str, int]:
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        config = OutboxConfig(durability=Durability.PROCESS_SAFE)
        outbox = await Outbox.open(Path(tmp), config, "bench")
        out = {"before": _rss()}
        producers, batch = 8, 2000

        async def produce(p: int) -> None:
            for k in range(p * batch, total, producers * batch):
                await outbox.accept(_batch(batch, k))

        await asyncio.gather(*(produce(p) for p in range(producers)))
        out["queued"] = _rss()
        out["records"] = (await outbox.stats()).records
        peak, after = out["queued"], 0
        while True:  # drain the way the uplink does: a page by seq, delete what was "acknowledged"
            page = await outbox.fetch(10_000, after_seq=after)
            if not page:
                break
            after = page[-1].seq
            for i in range(0, len(page), 500):
                await outbox.delete([r.seq for r in page[i : i + 500]])
            peak = max(peak, _rss())
        out["paging_peak"] = peak
        out["left"] = (await outbox.stats()).records
        await outbox.close()
    return out


def _in_memory(total: int) -> int:
    before = _rss()
    queue = [r for k in range(0, total, 2000) for r in _batch(2000, k)]
    grown = _rss() - before
    del queue
    return grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mode_args(parser)
    args = parser.parse_args()
    mode = mode_of(args)
    total = {"smoke": 100_000, "quick": 200_000, "full": 1_000_000}[mode]
    t0 = time.perf_counter()
    got = asyncio.run(_outbox(total))
    elapsed = time.perf_counter() - t0
    naive = _in_memory(total)
    grown = got["queued"] - got["before"]
    print(f"outbox with {got['records']:,} records queued ({elapsed:.1f} s incl. drain) ({mode}):")
    print(f"  RSS before {got['before'] / MIB:.1f} MiB, queued {got['queued'] / MIB:.1f} MiB "
          f"(+{grown / MIB:.1f}), paging peak {got['paging_peak'] / MIB:.1f} MiB, left after drain {got['left']}")
    print(f"baseline: the same records in a Python list: +{naive / MIB:.1f} MiB")
    print(f"ratio outbox growth / in-memory queue growth: {grown / naive:.3f}")
    report = Report("bench_outbox_memory", mode, params={"records": total})
    report.add(Figure(
        id="outbox.memory", title=f"RSS growth with {total:,} records queued in the outbox", value=grown / MIB,
        unit="MiB", baseline=naive / MIB, baseline_title="the same records in a Python list", better="lower",
        floor=0.8 if mode == "smoke" else None,  # a fixed ~10 MiB of SQLite cache weighs more on fewer records
        note=f"paging peak {got['paging_peak'] / MIB:.1f} MiB; {got['left']} left after the drain"))
    report.write(args.json)


if __name__ == "__main__":
    main()
