"""The bench's wire-time optimum (bench/_wire.py): exact, and written apart from the planner."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

import _wire
from _wire import Line, brute_force_s, one_per_point_s, optimum_s, requests_s


def random_points(rng: random.Random, n: int) -> list[tuple[int, int]]:
    address, out = rng.randrange(0, 30), []
    for _ in range(n):
        count = rng.choice((1, 1, 2, 2, 4))
        out.append((address, count))
        address += count + (0 if rng.random() < 0.3 else rng.randint(1, 40))
    rng.shuffle(out)  # the optimum sorts them itself
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_dp_equals_brute_force_over_every_partition(seed: int) -> None:
    rng = random.Random(seed)
    points = random_points(rng, rng.randint(1, 11))
    line = Line(rng.choice((1200, 9600, 19200, 38400, 115200)), parity=rng.choice("NE"))
    turnaround = rng.choice((0.0, 0.002, 0.005, 0.02))
    cap = rng.choice((125, 40, 10))
    best, requests = optimum_s(points, line, turnaround, max_registers=cap)
    assert best == pytest.approx(brute_force_s(points, line, turnaround, max_registers=cap))
    assert requests_s(requests, line, turnaround) == pytest.approx(best)
    # every point is read whole by exactly one request, and no request exceeds the cap
    for address, count in points:
        assert sum(1 for s, c in requests if s <= address and address + count <= s + c) == 1
    assert all(c <= cap for _, c in requests)


def test_spec_constants() -> None:
    assert (_wire.REQUEST_CHARS, _wire.RESPONSE_FIXED_CHARS) == (8, 5)
    line = Line(9600)  # 8N1: 10 bits a character
    assert line.char_s == pytest.approx(10 / 9600)
    assert line.silence_s == pytest.approx(3.5 * 10 / 9600)
    assert Line(9600, parity="E").char_s == pytest.approx(11 / 9600)
    assert Line(115200).silence_s == 0.00175  # fixed above 19200 baud
    # one read of 2 registers: 2 t3.5 + 8 + 9 characters + turnaround
    assert line.read_s(2, 0.005) == pytest.approx((7 + 17) * 10 / 9600 + 0.005)


def test_merging_a_hole_pays_when_the_wire_says_so() -> None:
    line = Line(9600)
    # two float32 40 registers apart: one request (2 + 40 + 2 registers) costs 80 characters more
    # than two, and saves a request (~13 chars + 2 t3.5 + 5 ms turnaround ~ 24.8 char times): no merge
    far = [(0, 2), (42, 2)]
    assert optimum_s(far, line, 0.005)[1] == [(0, 2), (42, 2)]
    near = [(0, 2), (10, 2)]  # 8 registers of hole cost 16 chars < one request's overhead
    assert optimum_s(near, line, 0.005)[1] == [(0, 12)]
    assert optimum_s(near, line, 0.005)[0] < one_per_point_s(near, line, 0.005)
