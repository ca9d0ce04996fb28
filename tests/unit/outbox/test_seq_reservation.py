"""The durable seq reservation (seq.hwm): RAM-only records never get a seq a restart could reuse.

Real SQLite files and a real sidecar; the disk failure is injected into the write connection
(FailingConnection) and the sidecar made unwritable by a directory where its temp file goes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from agent.outbox import hwm
from agent.outbox.codec import encode
from agent.records import Priority, Reading
from tests.unit.outbox.conftest import FakeClock, all_rows, commit
from tests.unit.outbox.test_failures import FailingConnection


def _readings(clock: FakeClock, n: int, device: str = "m1") -> list[Reading]:
    clock.now += 1
    return [Reading(device, "v", float(i), clock.now) for i in range(n)]


def _events(engine: Any) -> list[dict[str, Any]]:
    return [orjson.loads(r[0])[1] for r in engine.conn.execute("SELECT body FROM records WHERE kind = 1")]


def test_degraded_mode_hands_out_seqs_only_within_the_reservation(
    make_engine: Any, clock: FakeClock, tmp_path: Path
) -> None:
    engine = make_engine(ram_seq_reserve=1000, degraded_retry_s=5)
    before = commit(engine, _readings(clock, 3))
    reserved = engine.seqs.reserved
    assert hwm.read_reservation(tmp_path / "seq.hwm") == reserved >= before[-1] + 500
    (tmp_path / "seq.hwm.tmp").mkdir()  # the sidecar cannot be rewritten any more
    failing = FailingConnection(engine.conn, sqlite3.OperationalError("disk I/O error"), -1)
    engine.conn = failing
    results = [engine.commit([[encode(r) for r in _readings(clock, 100)]], []).accepts[0] for _ in range(12)]
    seqs = [s for result in results for s in result if s is not None]  # type: ignore[union-attr]
    refused = sum(result.count(None) for result in results)  # type: ignore[union-attr]
    assert engine.degraded is not None
    assert max(seqs) <= reserved < max(seqs) + 100  # numbered up to the reservation, not beyond
    assert refused == 1200 - len(seqs) > 0 and engine.rejections.total == refused
    assert engine.seqs.last_seq <= reserved

    (tmp_path / "seq.hwm.tmp").rmdir()  # the disk is back
    failing.times = 0
    clock.now += 6
    engine.housekeeping()
    assert engine.degraded is None
    after = commit(engine, _readings(clock, 1))
    assert after[0] > reserved
    gaps = [e for e in _events(engine) if e.get("reason") == "rejected"]
    assert [g["count"] for g in gaps] == [refused]  # the refusals, announced once seqs were there again
    assert hwm.read_reservation(tmp_path / "seq.hwm") == engine.seqs.reserved > after[0]


def test_an_unclean_stop_skips_the_reserved_seqs_and_says_so(make_engine: Any, clock: FakeClock) -> None:
    first = make_engine(ram_seq_reserve=1000)
    seqs = commit(first, _readings(clock, 10))
    reserved = first.seqs.reserved
    first.close()  # no finish(): what a kill leaves behind
    second = make_engine(ram_seq_reserve=1000)
    again = commit(second, _readings(clock, 1))
    [gap] = [e for e in _events(second) if e.get("reason") == "lost_in_ram"]
    assert gap["first_seq"] == seqs[-1] + 1 and gap["last_seq"] == reserved
    assert gap["count"] == reserved - seqs[-1] and gap["device"] == "gw1"
    assert [r[0] for r in all_rows(second) if r[1] == Priority.EVENT] == [reserved + 1]
    assert again == [reserved + 2]


def test_a_clean_stop_skips_nothing(make_engine: Any, clock: FakeClock, tmp_path: Path) -> None:
    first = make_engine(ram_seq_reserve=1000)
    seqs = commit(first, _readings(clock, 10))
    first.finish()
    first.close()
    assert hwm.read_reservation(tmp_path / "seq.hwm") == seqs[-1]  # released down to the last seq
    second = make_engine(ram_seq_reserve=1000)
    assert commit(second, _readings(clock, 1)) == [seqs[-1] + 1]
    assert _events(second) == []


def test_a_writer_restart_skips_nothing(make_engine: Any, clock: FakeClock) -> None:
    engine = make_engine(ram_seq_reserve=1000)
    seqs = commit(engine, _readings(clock, 10))
    engine.reopen("a bug")  # the same process: it knows every seq it handed out
    assert commit(engine, _readings(clock, 1)) == [seqs[-1] + 2]  # after the writer_restarted alarm
    assert [e for e in _events(engine) if e.get("reason") == "lost_in_ram"] == []
