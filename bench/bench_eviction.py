"""How long one eviction step holds the outbox writer on a big backlog (default 2 GiB), and what accepts wait.

Once the outbox's live pages pass its budget, the writer thread evicts the oldest telemetry down to
90 % of it: about 10 % of the file, millions of rows at 2 GiB. An accept queued meanwhile waits for
the writer, and the health check withholds the systemd watchdog once an accept has waited longer
than ``outbox.accept_stall_s`` (60 s): a long enough eviction on a slow SD card gets a healthy agent
killed. This bench builds the backlog (``bench_startup.build_backlog``: ~100-byte readings in the
real schema), sets the cap just above it, and runs a producer (20 readings every 10 ms) through the
real ``Outbox`` until one eviction pass has ended. Per checkout (this one, and ``--compare-src
/work/main``), in a child process on its own copy of the file, it prints:

- each eviction transaction (``SpaceKeeper._evict_round``, timed from outside): rows and seconds;
- the pass: how long from its first to its last transaction;
- accept waits: the median before the pass, the p99 and the longest during it (what the watchdog sees),
  and their ratio to the median before (same run, same file).

The file is in the page cache (it was just written); an SD card is slower, and the steps with it.
Run: ``.venv/bin/python bench/bench_eviction.py [--compare-src /work/main] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_startup import GIB, build_backlog  # noqa: E402

CHILD = r"""
import asyncio, json, sqlite3, statistics, sys, time
from pathlib import Path
from agent.outbox import space
from agent.outbox.bounds import used_bytes
from agent.outbox.config import Durability, OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Reading

MIB = 1 << 20
steps = []  # (start, seconds, rows evicted, rows allowed)
evict_round = space.SpaceKeeper._evict_round

def timed_round(self, conn, target, max_rows):
    t0 = time.perf_counter()
    evicted = evict_round(self, conn, target, max_rows)
    steps.append((t0, time.perf_counter() - t0, evicted, max_rows))
    return evicted

space.SpaceKeeper._evict_round = timed_round

async def main() -> None:
    state = Path(sys.argv[1])
    conn = sqlite3.connect(state / "outbox.db")
    used = used_bytes(conn)
    conn.close()
    # the page budget is the cap minus the WAL (8 MiB), the reserve (16 MiB) and 32 KiB: 4 MiB of room left
    cap = used + 28 * MIB + 32 * 1024
    config = OutboxConfig(durability=Durability.PROCESS_SAFE, max_bytes=cap, hard_cap_bytes=max(cap, 2 << 30))
    outbox = await Outbox.open(state, config, "bench")
    before, during = [], []
    i = 0
    try:
        while True:
            i += 1
            now = time.time()
            started = time.perf_counter()
            await outbox.accept([Reading(f"live{k}", "v", float(i), now) for k in range(20)])
            waited = time.perf_counter() - started
            pass_over = steps and time.perf_counter() - (steps[-1][0] + steps[-1][1]) > 2.0
            if pass_over:
                break
            (during if steps else before).append(waited)
            await asyncio.sleep(0.01)
    finally:
        await outbox.close()
    during.sort()
    print(json.dumps({
        "steps": [(s, e, m) for _, s, e, m in steps],
        "pass_s": steps[-1][0] + steps[-1][1] - steps[0][0],
        "wait_before_median_s": statistics.median(before),
        "wait_during_p99_s": during[int(0.99 * (len(during) - 1))] if during else 0.0,
        "wait_during_max_s": during[-1] if during else 0.0,
        "accepts_during": len(during),
    }))

asyncio.run(main())
"""


def run_child(src: Path, state: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(state)], cwd=src, env=env, capture_output=True,
                          text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{src}: the child failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(name: str, r: dict[str, object]) -> None:
    steps = r["steps"]
    assert isinstance(steps, list)
    seconds = [float(s[0]) for s in steps]
    rows = [int(s[1]) for s in steps]
    base = float(r["wait_before_median_s"])  # type: ignore[arg-type]
    worst = float(r["wait_during_max_s"])  # type: ignore[arg-type]
    p99 = float(r["wait_during_p99_s"])  # type: ignore[arg-type]
    print(f"\n{name}")
    print(f"  eviction pass: {len(steps)} transactions, {sum(rows):,} rows, {float(r['pass_s']):.2f} s")  # type: ignore[arg-type]
    print(f"  one transaction: longest {max(seconds):.3f} s ({rows[seconds.index(max(seconds))]:,} rows), "
          f"median {statistics.median(seconds):.3f} s, first {seconds[0]:.3f} s ({rows[0]:,} rows)")
    print(f"  accept wait: median before {base * 1000:.1f} ms; during the pass ({r['accepts_during']} accepts) "
          f"p99 {p99 * 1000:.1f} ms, longest {worst * 1000:.1f} ms = {worst / base:.0f}x the median before")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--row-bytes", type=int, default=100)
    parser.add_argument("--compare-src", type=Path, help="another checkout (e.g. /work/main) run the same way")
    parser.add_argument("--workdir", type=Path, help="where the backlog goes (default: a temp dir on /var/tmp)")
    parser.add_argument("--quick", action="store_true", help="256 MiB")
    args = parser.parse_args()
    size = int((0.25 if args.quick else args.size_gib) * GIB)
    work = Path(tempfile.mkdtemp(prefix="bench-eviction-", dir=args.workdir or "/var/tmp"))
    try:
        source = work / "backlog.db"
        rows = build_backlog(source, size, args.row_bytes)
        print(f"backlog: {source.stat().st_size / GIB:.2f} GiB, {rows:,} rows of ~{args.row_bytes} bytes")
        checkouts = [("this checkout", ROOT)] + ([("compare: " + str(args.compare_src), args.compare_src)]
                                                  if args.compare_src else [])
        for name, src in checkouts:
            state = work / f"state-{len(name)}"
            state.mkdir()
            shutil.copyfile(source, state / "outbox.db")
            report(f"{name} ({src})", run_child(src, state))
            shutil.rmtree(state)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
