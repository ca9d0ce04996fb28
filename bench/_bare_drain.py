"""The best bare paho drain loop we could write: the baseline the Uplink is measured against.

No agent code. Three threads over the outbox's own table:

- **reader**: pages of 10,000 rows by seq on its own connection, encoded ahead into messages of 500
  records with the uplink's payload (``{"gw", "hist", "records": [{seq, dev, pt, v, u, q, ts}]}``,
  orjson, zlib level 1 when compressing), at most two pages ahead;
- **publisher** (the caller's thread): paho MQTT 5 QoS 1 with the same content type and user
  properties, at most 100 messages in flight (a semaphore released by each PUBACK);
- **deleter**: deletes acknowledged seqs (contiguous ranges, up to 1,000 a transaction, like the
  outbox's writer) on its own connection at ``synchronous=FULL``, overlapped with publishing.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

PAGE = 10_000
BATCH = 500
INFLIGHT = 100
DELETE_CHUNK = 1000

Message = tuple[bytes, int, int]  # payload, first seq, last seq


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _reader(path: Path, gateway: str, compress: bool, out: queue.Queue[list[Message] | None]) -> None:
    db = _connect(path)
    loads, dumps = orjson.loads, orjson.dumps
    after = 0
    try:
        while True:
            rows = db.execute(
                "SELECT seq, device, ts, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?", (after, PAGE)
            ).fetchall()
            if not rows:
                break
            page: list[Message] = []
            for i in range(0, len(rows), BATCH):
                chunk = rows[i : i + BATCH]
                items = []
                for seq, dev, ts, body in chunk:
                    pt, v, u, q = loads(body)
                    items.append({"seq": seq, "dev": dev, "pt": pt, "v": v, "u": u, "q": q, "ts": ts})
                payload = dumps({"gw": gateway, "hist": True, "records": items})
                page.append((zlib.compress(payload, 1) if compress else payload, chunk[0][0], chunk[-1][0]))
            out.put(page)
            after = rows[-1][0]
    finally:
        out.put(None)
        db.close()


def _deleter(path: Path, acked: queue.SimpleQueue[tuple[int, int] | None], done: threading.Event) -> None:
    db = _connect(path)
    try:
        while True:
            first = acked.get()
            if first is None:
                break
            ranges = [first]
            count = first[1] - first[0] + 1
            stop = False
            while count < DELETE_CHUNK:
                try:
                    item = acked.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                ranges.append(item)
                count += item[1] - item[0] + 1
            db.execute("BEGIN")
            db.executemany("DELETE FROM records WHERE seq BETWEEN ? AND ?", ranges)
            db.execute("COMMIT")
            if stop:
                break
    finally:
        db.close()
        done.set()


def drain_bare(state: Path, port: int, gateway: str, n: int, compress: bool,
               rss_mb: Callable[[], float]) -> tuple[float, float]:
    """Seconds to drain the ``n`` records of ``state/outbox.db`` (published, acknowledged, deleted), and
    the peak RSS (MB) sampled while draining."""
    path = state / "outbox.db"
    pages: queue.Queue[list[Message] | None] = queue.Queue(maxsize=2)
    acked: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
    window = threading.Semaphore(INFLIGHT)
    sent: dict[int, tuple[int, int]] = {}
    deleted = threading.Event()
    acks = 0
    all_acked = threading.Event()
    total_messages = -(-n // BATCH)

    def on_publish(client: paho.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        nonlocal acks
        while mid not in sent:  # the PUBACK can beat the publisher's bookkeeping by a few microseconds
            time.sleep(0)
        acked.put(sent.pop(mid))
        window.release()
        acks += 1
        if acks == total_messages:
            all_acked.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare-drain", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(INFLIGHT)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = "application/json+zlib" if compress else "application/json"
    props.UserProperty = [("enc", "json"), ("hist", "1")]
    topic = f"edgepost/{gateway}/telemetry"
    peak = rss_mb()
    t0 = time.perf_counter()
    reader = threading.Thread(target=_reader, args=(path, gateway, compress, pages), daemon=True)
    deleter = threading.Thread(target=_deleter, args=(path, acked, deleted), daemon=True)
    reader.start()
    deleter.start()
    published = 0
    while (page := pages.get()) is not None:
        for payload, lo, hi in page:
            window.acquire()
            info = client.publish(topic, payload, qos=1, properties=props)
            sent[info.mid] = (lo, hi)
            published += 1
        peak = max(peak, rss_mb())
    if published != total_messages:
        raise RuntimeError(f"published {published} messages, expected {total_messages}")
    if not all_acked.wait(300):
        raise RuntimeError("the broker did not acknowledge every message")
    acked.put(None)
    deleted.wait(300)
    elapsed = time.perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    check = sqlite3.connect(path)
    left = check.execute("SELECT count(*) FROM records").fetchone()[0]
    check.close()
    if left:
        raise RuntimeError(f"{left} records left after the bare drain")
    return elapsed, peak
