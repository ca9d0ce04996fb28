"""A stand-in agent for kill -9 tests: the real Outbox, the real Uplink and a synthetic producer.

Run from the repo root: ``python tests/integration/uplink/harness.py --state DIR --port N --log FILE
[--produce] [--uplink] [--exit-when-drained]``. The producer appends the last seq of every accepted
batch to ``--log`` and fsyncs it only after ``Outbox.accept`` returned, so every seq in the log was
accepted (durable) before the process could be killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from agent.outbox.config import OutboxConfig
from agent.outbox.store import Outbox
from agent.records import Event, Priority, Reading
from agent.uplink.config import UplinkConfig
from agent.uplink.uplink import Uplink

DEVICES = [f"pole{i}" for i in range(4)]


async def produce(outbox: Outbox, log_path: Path, batch: int) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    n = 0
    try:
        while True:
            records: list[Reading | Event] = [
                Reading(DEVICES[i % len(DEVICES)], "lux", n + i, time.time()) for i in range(batch)
            ]
            if n % (batch * 10) == 0:
                records.append(Event(DEVICES[0], "tick", priority=Priority.EVENT, data={"n": n}))
            seqs = await outbox.accept(records)
            os.write(fd, f"{seqs[-1]}\n".encode())
            os.fsync(fd)
            n += batch
            await asyncio.sleep(0.002)
    finally:
        os.close(fd)


async def main(args: argparse.Namespace) -> None:
    outbox = await Outbox.open(Path(args.state), OutboxConfig(), "gw-harness")
    uplink = Uplink(
        UplinkConfig(port=args.port, batch_records=200, inflight=20, reconnect_min_s=0.1, reconnect_max_s=0.5),
        OutboxConfig(live_window_s=2.0),
        "gw-harness",
        outbox,
    )
    tasks = []
    if args.produce:
        tasks.append(asyncio.create_task(produce(outbox, Path(args.log), args.batch)))
    if args.uplink:
        tasks.append(asyncio.create_task(uplink.run()))
    print("READY", outbox.last_seq, flush=True)
    try:
        if args.exit_when_drained:
            while (await outbox.stats()).records > 0:  # noqa: ASYNC110 -- polls the outbox itself
                await asyncio.sleep(0.1)
            print("DRAINED", uplink.counters.records_acked, flush=True)
            await uplink.stop()
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks)
        await outbox.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--produce", action="store_true")
    parser.add_argument("--uplink", action="store_true")
    parser.add_argument("--exit-when-drained", action="store_true")
    asyncio.run(main(parser.parse_args()))
