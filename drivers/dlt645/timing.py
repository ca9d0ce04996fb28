"""Wire time of DL/T 645 reads: how long one keeps an RS-485 line busy (the bus cost model).

A frame is the ``FE`` wake-up preamble (4 bytes), ``68 A0..A5 68 C L``, ``L`` data bytes, ``CS 16``:
``16 + L`` bytes. At the standard's 2400 baud 8E1 a byte is 11 bits (start, 8 data, parity, stop),
4.58 ms. A read asks with ``L`` = the DI (4 bytes in -2007, 2 in -1997) and is answered with the DI
and the format's bytes. One read keeps the line busy for the quiet gap before the request, the
request, the meter's turnaround and the reply; Modbus reads on the same line are costed by
``drivers.modbus.planner.wire_time_s``, and the line's load is the sum of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from drivers.dlt645.frame import HEADER, PREAMBLE
from drivers.dlt645.profile import Dlt645Point

FRAME_TAIL = 2  # CS, 16


def frame_bytes(data_bytes: int, preamble: int = len(PREAMBLE)) -> int:
    return preamble + HEADER + data_bytes + FRAME_TAIL


def read_bytes(point: Dlt645Point, preamble: int = len(PREAMBLE)) -> tuple[int, int]:
    """(request, reply) bytes of one read of ``point``, preambles included."""
    di = point.data_id.width
    return frame_bytes(di, preamble), frame_bytes(di + point.data_format.size, preamble)


def read_time_s(
    point: Dlt645Point, baudrate: int, bits_per_char: int, turnaround_s: float, gap_s: float,
    preamble: int = len(PREAMBLE),
) -> float:
    request, reply = read_bytes(point, preamble)
    return gap_s + (request + reply) * bits_per_char / baudrate + turnaround_s


def load(read_s: Mapping[str, float], periods: Mapping[str, float], names: Iterable[str] | None = None) -> float:
    """Fraction of the line's time the points (``names``, default all) take at their periods."""
    chosen = periods if names is None else {n: periods[n] for n in names}
    return sum(read_s[n] / period for n, period in chosen.items())
