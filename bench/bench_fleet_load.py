"""Bytes per record on the wire, JSON batches vs Sparkplug B, for the fleet load model (docs/fleet-load.md).

Encodes realistic readings (5 devices, float values, units, good quality) in messages of 1, 10, 100
and 500 records with the real codecs (uplink defaults: batch_records 500, compress_backlog on) and
prints payload bytes per record and per message. Usage: python bench/bench_fleet_load.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.outbox.api import StoredRecord  # noqa: E402
from agent.records import Priority  # noqa: E402
from agent.uplink.codecs.json_batch import JsonBatchCodec  # noqa: E402
from agent.uplink.sparkplug.catalog import Catalog, DeviceDecl, PointDecl  # noqa: E402
from agent.uplink.sparkplug.encoder import SparkplugEncoder  # noqa: E402

DEVICES = [f"meter{i}" for i in range(5)]
POINTS = ["voltage", "current", "active_power", "energy", "frequency", "power_factor", "temperature", "humidity"]


def records(n: int) -> list[StoredRecord]:
    now = time.time()
    out = []
    for i in range(n):
        body = {"point": POINTS[i % len(POINTS)], "value": 230.0 + (i * 7919 % 1000) / 37.0, "unit": "V",
                "quality": "good"}
        out.append(StoredRecord(100_000 + i, Priority.TELEMETRY, "reading", DEVICES[i // len(POINTS) % len(DEVICES)],
                                now + i * 0.01, now, body))  # type: ignore[arg-type]
    return out


def main() -> None:
    json_codec = JsonBatchCodec("pole-00017", 256 * 1024, True)
    catalog = Catalog()
    points = tuple(PointDecl(p, "float64", unit="V") for p in POINTS)
    catalog.declare([DeviceDecl(d, "online", points) for d in DEVICES])
    spb = SparkplugEncoder(catalog, "pole-00017", 256 * 1024)
    print("records/msg | JSON live B/rec | JSON backlog (zlib) B/rec | Sparkplug B/rec (msgs: one per device)")
    for n in (1, 10, 40, 100, 500):
        recs = records(n)
        live = sum(len(b.payload) for b in json_codec.encode(recs, False))
        hist = sum(len(b.payload) for b in json_codec.encode(recs, True))
        messages = spb.encode(recs, False).messages
        spb_bytes = sum(len(m.payload.SerializeToString()) + 2 for m in messages)  # + seq field
        print(f"{n:11d} | {live / n:15.1f} | {hist / n:25.1f} | {spb_bytes / n:8.1f} ({len(messages)} msgs)")


if __name__ == "__main__":
    main()
