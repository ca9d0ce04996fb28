"""Read planner: merging, holes, limits, exact optimum, learned illegal ranges."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modbus.planner import (
    IllegalRanges,
    PlanPoint,
    one_per_point,
    overhead_chars,
    payload_chars,
    plan_reads,
    split_read,
    uncovered,
    wire_time_s,
)
from drivers.modbus.profile import ReadLimits, Table

H = Table.HOLDING


def pts(*spans: tuple[int, int], table: Table = H) -> list[PlanPoint]:
    return [PlanPoint(f"p{a}", table, a, n) for a, n in spans]


def spans(plan: list) -> list[tuple[int, int]]:
    return [(r.address, r.count) for r in plan]


def test_contiguous_points_become_one_request() -> None:
    plan = plan_reads(pts((0, 2), (2, 1), (3, 2)))
    assert spans(plan) == [(0, 5)]
    assert [p.name for p in plan[0].points] == ["p0", "p2", "p3"]


def test_small_holes_are_filled_large_ones_split() -> None:
    limits = ReadLimits(max_hole=4)
    plan = plan_reads(pts((0, 1), (4, 1), (20, 1)), limits)
    assert spans(plan) == [(0, 5), (20, 1)]


def test_hole_limit_wins_even_when_merging_would_be_cheaper() -> None:
    plan = plan_reads(pts((0, 1), (3, 1)), ReadLimits(max_hole=1), overhead=1000)
    assert spans(plan) == [(0, 1), (3, 1)]


def test_hole_not_filled_when_a_second_request_is_cheaper() -> None:
    # 8 free registers cost 16 chars; a second request costs only 10
    plan = plan_reads(pts((0, 1), (9, 1)), ReadLimits(max_hole=20), overhead=10)
    assert spans(plan) == [(0, 1), (9, 1)]
    plan = plan_reads(pts((0, 1), (9, 1)), ReadLimits(max_hole=20), overhead=30)
    assert spans(plan) == [(0, 10)]


def test_device_register_limit() -> None:
    plan = plan_reads(pts(*((a, 2) for a in range(0, 20, 2))), ReadLimits(max_registers=6))
    assert all(r.count <= 6 for r in plan)
    assert sum(len(r.points) for r in plan) == 10
    assert len(plan) == 4  # 20 registers in chunks of at most 6 (3 points each)


def test_modbus_maximum_of_125_registers() -> None:
    plan = plan_reads(pts(*((a, 1) for a in range(300))), ReadLimits(max_registers=125))
    assert sorted(r.count for r in plan) == [50, 125, 125]


def test_bits_merge_up_to_max_bits() -> None:
    coils = pts(*((a, 1) for a in range(0, 3000)), table=Table.COIL)
    plan = plan_reads(coils)
    assert sorted(r.count for r in plan) == [1000, 2000]
    assert all(r.table is Table.COIL for r in plan)


def test_tables_are_planned_separately() -> None:
    plan = plan_reads([*pts((0, 1)), *pts((1, 1), table=Table.INPUT), *pts((0, 1), table=Table.COIL)])
    assert [r.table for r in plan] == [Table.COIL, Table.INPUT, Table.HOLDING]


def test_learned_illegal_range_is_never_spanned() -> None:
    illegal = IllegalRanges()
    assert illegal.add(H, 3, 5)
    assert not illegal.add(H, 3, 4)  # already known
    plan = plan_reads(pts((0, 2), (5, 2), (7, 1)), ReadLimits(max_hole=8), illegal, overhead=100)
    assert spans(plan) == [(0, 2), (5, 3)]
    assert not any(illegal.overlaps(H, r.address, r.end) for r in plan)


def test_illegal_ranges_cover_together_and_round_trip() -> None:
    illegal = IllegalRanges()
    illegal.add(H, 10, 12)
    illegal.add(H, 12, 15)
    assert not illegal.add(H, 11, 14)  # covered by the two together
    illegal.add(Table.INPUT, 0, 1)
    # kept as learned, not merged: a point's registers and the hole next to it are re-probed apart
    assert {t: [row[:2] for row in rows] for t, rows in illegal.as_dict().items()} == {
        "holding": [[10, 12], [12, 15]],
        "input": [[0, 1]],
    }
    again = IllegalRanges.from_dict(illegal.as_dict())
    assert again.as_dict() == illegal.as_dict()
    assert again.covers(H, 11, 14) and not again.overlaps(H, 15, 20)


def test_split_and_uncovered() -> None:
    (read,) = plan_reads(pts((0, 1), (2, 1), (6, 2), (9, 1)), ReadLimits(max_hole=8), overhead=100)
    first, second = split_read(read)
    assert spans([first, second]) == [(0, 3), (6, 4)]
    assert uncovered(read, (first, second)) == [(3, 6)]
    with pytest.raises(ValueError):
        split_read(first.__class__(H, 0, 1, first.points[:1]))


def _cost(plan: list, overhead: float) -> float:
    return sum(overhead + payload_chars(r.table, r.count) for r in plan)


def _brute_force(points: list[PlanPoint], limits: ReadLimits, overhead: float) -> float:
    """Cheapest feasible partition of the sorted points into consecutive runs, by enumeration."""
    ordered = sorted(points, key=lambda p: p.address)
    n = len(ordered)
    best = math.inf
    for cuts in itertools.product([False, True], repeat=n - 1):
        runs, current = [], [ordered[0]]
        for point, cut in zip(ordered[1:], cuts, strict=True):
            if cut:
                runs.append(current)
                current = []
            current.append(point)
        runs.append(current)
        total = 0.0
        for run in runs:
            start, end = run[0].address, max(p.end for p in run)
            max_hole = limits.max_registers if limits.max_hole is None else limits.max_hole
            holes_ok = all(
                b.address - max(p.end for p in run[: i + 1]) <= max_hole for i, b in enumerate(run[1:])
            )
            if len(run) > 1 and (end - start > limits.max_registers or not holes_ok):
                total = math.inf
                break
            total += overhead + 2 * (end - start)
        best = min(best, total)
    return best


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 80), st.sampled_from([1, 2, 4])), min_size=1, max_size=9, unique_by=lambda t: t[0]
    ),
    st.integers(1, 30),
    st.none() | st.integers(0, 12),
    st.floats(1, 60),
)
def test_dp_is_exactly_optimal(
    raw: list[tuple[int, int]], max_registers: int, max_hole: int | None, overhead: float
) -> None:
    # non-overlapping points, as a valid profile has
    points: list[PlanPoint] = []
    for address, count in sorted(raw):
        if points and address < points[-1].end:
            continue
        points.append(PlanPoint(f"p{address}", H, address, count))
    limits = ReadLimits(max_registers=max_registers, max_hole=max_hole)
    plan = plan_reads(points, limits, overhead=overhead)
    assert sorted(p.name for r in plan for p in r.points) == sorted(p.name for p in points)
    for read in plan:
        assert len(read.points) == 1 or read.count <= max_registers
        assert read.address == min(p.address for p in read.points)
        assert read.end == max(p.end for p in read.points)
    assert _cost(plan, overhead) == pytest.approx(_brute_force(points, limits, overhead))


def test_without_a_hole_limit_the_wire_cost_decides() -> None:
    assert ReadLimits().max_hole is None  # the profile default
    # a hole of 11 registers costs 22 characters: worth it against a request of 30, not one of 20
    (merged,) = plan_reads(pts((0, 1), (12, 1)), overhead=30)
    assert (merged.address, merged.count) == (0, 13)
    assert len(plan_reads(pts((0, 1), (12, 1)), overhead=20)) == 2
    # only the request size bounds a hole
    (wide,) = plan_reads(pts((0, 1), (124, 1)), overhead=1000)
    assert wide.count == 125
    assert len(plan_reads(pts((0, 1), (125, 1)), overhead=1000)) == 2


def test_wire_time_model() -> None:
    # 9600 8N1: 10 bits a character. One read of 2 registers: 8 + 5 + 4 bytes + 7 chars silence = 24 chars
    (read,) = plan_reads(pts((0, 2)))
    assert wire_time_s([read], 9600, "N", 1, 0.0) == pytest.approx(24 * 10 / 9600)
    assert wire_time_s([read], 9600, "E", 1, 0.005) == pytest.approx(24 * 11 / 9600 + 0.005)
    # 30 scattered points: merging beats one request per point
    scattered = pts(*((a * 3, 1) for a in range(30)))
    cost = overhead_chars(9600, "N", 1, 0.005)
    merged = plan_reads(scattered, ReadLimits(max_hole=8), overhead=cost)
    naive = one_per_point(scattered)
    assert len(naive) == 30 and len(merged) == 1
    assert wire_time_s(merged, 9600, turnaround_s=0.005) < wire_time_s(naive, 9600, turnaround_s=0.005) / 3
