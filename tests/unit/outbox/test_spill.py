"""The degraded-mode spill (bounded, telemetry dropped first) and the deferred-delete tombstones."""

from __future__ import annotations

from agent.outbox.spill import Spill, Tombstones, seq_ranges
from agent.records import Priority


def _row(seq: int, priority: Priority, accepted_at: float = 1.0) -> tuple[int, int, int, str, float, float, str]:
    return (seq, int(priority), 0, f"d{seq}", float(seq), accepted_at, "[]")


def test_spill_drops_oldest_telemetry_then_events_keeps_alarms() -> None:
    spill = Spill(max_records=3)
    dropped = spill.add([_row(1, Priority.ALARM), _row(2, Priority.TELEMETRY), _row(3, Priority.EVENT)])
    assert dropped == []
    dropped = spill.add([_row(4, Priority.TELEMETRY), _row(5, Priority.TELEMETRY)])
    assert [g.device for g in dropped] == ["d2", "d4"]
    dropped = spill.add([_row(6, Priority.ALARM)])
    assert [g.device for g in dropped] == ["d5"]
    dropped = spill.add([_row(7, Priority.ALARM)])
    assert [g.device for g in dropped] == ["d3"]
    assert [r[0] for r in spill.take_all()] == [1, 6, 7]
    assert spill.dropped_total == 4


def test_spill_select_filters_like_fetch() -> None:
    spill = Spill(max_records=100)
    spill.add([_row(1, Priority.TELEMETRY, 10.0), _row(2, Priority.ALARM, 20.0), _row(3, Priority.TELEMETRY, 30.0)])
    assert [r[0] for r in spill.select(10, 0, None, None, None)] == [1, 2, 3]
    assert [r[0] for r in spill.select(10, 1, int(Priority.TELEMETRY), None, None)] == [3]
    assert [r[0] for r in spill.select(10, 0, None, 15.0, None)] == [2, 3]
    assert [r[0] for r in spill.select(10, 0, None, None, 30.0)] == [1, 2]
    assert [r[0] for r in spill.select(1, 0, None, None, None)] == [1]
    spill.delete([2])
    spill.clear(1)
    assert [r[0] for r in spill.take_all()] == [3]


def test_tombstones_merge_ranges() -> None:
    stones = Tombstones()
    assert not stones
    stones.add([(5, 7), (1, 2)])
    stones.add([(3, 4), (10, 10)])
    assert [s for s in range(12) if stones.contains(s)] == [1, 2, 3, 4, 5, 6, 7, 10]
    assert stones.take() == [(1, 7), (10, 10)]
    assert not stones


def test_seq_ranges_compress_acks() -> None:
    assert seq_ranges([5, 3, 4, 9, 10, 1, 4]) == [(1, 1), (3, 5), (9, 10)]
    assert seq_ranges(list(range(100, 600))) == [(100, 599)]
    assert seq_ranges([]) == []
