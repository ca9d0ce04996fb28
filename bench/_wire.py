"""The wire-time optimum of reading a set of registers on an RTU line, from the Modbus specs alone.

Written apart from the read planner and the simulator's timing model on purpose: nothing here
imports ``drivers.modbus``, so a bench comparing the planner with this optimum measures plan quality
and execution, not one model against itself.

Sources (modbus.org): *Modbus Application Protocol V1.1b3* (section 6.4, Read Input Registers: a
request PDU of function code + starting address (2) + quantity (2), a response PDU of function code +
byte count + 2 bytes per register, quantity 1..125) and *Modbus over Serial Line V1.02* (2.5.1: an
RTU frame is address + PDU + CRC (2); 2.5.1.1: frames are separated by at least 3.5 character times
of silence, fixed at 1.75 ms above 19200 baud; 2.5.1 a character is 1 start, 8 data, 1 parity or a
second stop bit, 1 stop: we count the bits of the line's actual setting).

One read transaction keeps the line busy for::

    t3.5 + request (8 chars) + t3.5 + turnaround + response (5 + 2 N chars)

(the silence before the next request is the next transaction's leading t3.5). The optimum reads
every point whole (a value split over two reads could tear) in requests of contiguous registers of
at most 125, holes between points read along (a non-strict device answers them): the least total
time over all partitions of the address-sorted points into runs. A textbook shortest path over the
cut positions finds it exactly; ``brute_force_s`` enumerates every partition (for tests).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

RTU_ADDRESS_BYTES = 1
FUNCTION_BYTES = 1
CRC_BYTES = 2
READ_REQUEST_PDU = FUNCTION_BYTES + 2 + 2  # function, starting address, quantity
READ_RESPONSE_PDU_FIXED = FUNCTION_BYTES + 1  # function, byte count; then 2 bytes per register
REQUEST_CHARS = RTU_ADDRESS_BYTES + READ_REQUEST_PDU + CRC_BYTES  # 8
RESPONSE_FIXED_CHARS = RTU_ADDRESS_BYTES + READ_RESPONSE_PDU_FIXED + CRC_BYTES  # 5
BYTES_PER_REGISTER = 2
MAX_REGISTERS_PER_READ = 125  # function 4 (and 3): quantity 1..125
SILENCE_CHARS = 3.5
FIXED_SILENCE_S = 0.00175  # above 19200 baud
FIXED_SILENCE_ABOVE_BAUD = 19200


@dataclass(frozen=True)
class Line:
    baud: int
    data_bits: int = 8
    parity: str = "N"
    stop_bits: int = 1

    @property
    def char_s(self) -> float:
        bits = 1 + self.data_bits + (0 if self.parity == "N" else 1) + self.stop_bits
        return bits / self.baud

    @property
    def silence_s(self) -> float:
        if self.baud > FIXED_SILENCE_ABOVE_BAUD:
            return FIXED_SILENCE_S
        return SILENCE_CHARS * self.char_s

    def read_s(self, registers: int, turnaround_s: float, extra_s: float = 0.0) -> float:
        """Line time of one read of ``registers`` registers (``extra_s``: per-request dead time the
        master's path adds, e.g. a USB adapter's latency)."""
        chars = REQUEST_CHARS + RESPONSE_FIXED_CHARS + BYTES_PER_REGISTER * registers
        return 2 * self.silence_s + chars * self.char_s + turnaround_s + extra_s


Span = tuple[int, int]  # a point's registers: (first address, count)


def _sorted(points: Sequence[Span]) -> list[Span]:
    return sorted(points)


def optimum_s(
    points: Sequence[Span],
    line: Line,
    turnaround_s: float,
    max_registers: int = MAX_REGISTERS_PER_READ,
    extra_s: float = 0.0,
) -> tuple[float, list[Span]]:
    """Least line time reading every point once, and the requests (start, count) that achieve it.

    ``best[k]`` is the least time to read the first ``k`` points (by address); the last request of
    such a reading covers points ``j..k-1`` for some ``j``, so ``best[k] = min_j best[j] + read(span)``.
    """
    pts = _sorted(points)
    n = len(pts)
    inf = float("inf")
    best = [0.0] + [inf] * n
    choice = [0] * (n + 1)
    for k in range(1, n + 1):
        end = 0
        for j in range(k - 1, -1, -1):  # the span only grows as the run reaches back
            end = max(end, pts[j][0] + pts[j][1])
            span = end - pts[j][0]
            if span > max_registers:
                break
            cost = best[j] + line.read_s(span, turnaround_s, extra_s)
            if cost < best[k]:
                best[k], choice[k] = cost, j
    requests: list[Span] = []
    k = n
    while k > 0:
        j = choice[k]
        start = pts[j][0]
        requests.append((start, max(a + c for a, c in pts[j:k]) - start))
        k = j
    requests.reverse()
    return best[n], requests


def brute_force_s(
    points: Sequence[Span], line: Line, turnaround_s: float, max_registers: int = MAX_REGISTERS_PER_READ
) -> float:
    """The same optimum by enumerating all 2^(n-1) ways to cut the sorted points (n <= ~16)."""
    pts = _sorted(points)
    n = len(pts)
    best = float("inf")
    for cuts in itertools.product((False, True), repeat=max(n - 1, 0)):
        total, start = 0.0, 0
        feasible = True
        for i in range(n):
            if i == n - 1 or cuts[i]:
                group = pts[start : i + 1]
                span = max(a + c for a, c in group) - group[0][0]
                if span > max_registers:
                    feasible = False
                    break
                total += line.read_s(span, turnaround_s)
                start = i + 1
        if feasible:
            best = min(best, total)
    return best


def one_per_point_s(points: Sequence[Span], line: Line, turnaround_s: float, extra_s: float = 0.0) -> float:
    """Line time of one request per point (the naive poller)."""
    return sum(line.read_s(count, turnaround_s, extra_s) for _, count in points)


def requests_s(requests: Sequence[Span], line: Line, turnaround_s: float, extra_s: float = 0.0) -> float:
    """Line time of a given list of requests (e.g. the planner's plan), by the same spec constants."""
    return sum(line.read_s(count, turnaround_s, extra_s) for _, count in requests)
