"""The serial wire-timing model: how long request and response bytes occupy an RS-485 line.

A character is a start bit, ``bytesize`` data bits, an optional parity bit and the stop bits: 10 bits
for 8N1, 11 for 8E1/8N2. A frame ends with 3.5 characters of silence, which the device needs to see
before it knows the request is complete. One transaction occupies the bus for::

    t3.5 (gap before the request) + request + t3.5 + turnaround + response

which is what ``WireTiming.transaction_s`` returns and what the optimum in ``bench/`` costs per request.
The simulator delays its answer by ``response_delay_s`` (everything after the request arrived on the
pty) and keeps the line busy for the first t3.5 afterwards (``guard_s``), so a pty carries exactly
what a real bus at that baud would carry.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from drivers.serialbus.framing import bits_per_char

SILENCE_CHARS = 3.5
# Modbus over serial line spec: above 19200 baud the silence is fixed at 1.75 ms
MIN_SILENCE_S = 0.00175
# RTU framing overhead: unit id + function code + CRC (2)
RTU_OVERHEAD_BYTES = 4
READ_REQUEST_BYTES = 8  # id, fc, address(2), count(2), crc(2)
READ_RESPONSE_OVERHEAD_BYTES = 5  # id, fc, byte count, crc(2)

# asyncio timers are coarse (scheduler wake-up jitter); spin for the final stretch
_SPIN_S = 0.0015


@dataclass(frozen=True)
class WireTiming:
    """Character time and frame durations for one serial line setting."""

    baud: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1

    def __post_init__(self) -> None:
        if self.baud <= 0:
            raise ValueError(f"baud must be positive, got {self.baud}")

    @property
    def bits_per_char(self) -> int:
        return bits_per_char(self.parity, self.stopbits, self.bytesize)

    @property
    def char_s(self) -> float:
        return self.bits_per_char / self.baud

    @property
    def silence_s(self) -> float:
        """The 3.5-character inter-frame silence (1.75 ms at the fast bauds where that is longer)."""
        return max(SILENCE_CHARS * self.char_s, MIN_SILENCE_S)

    def bytes_s(self, count: int) -> float:
        """Time ``count`` bytes take on the wire, back to back."""
        return count * self.char_s

    def response_delay_s(self, request_bytes: int, response_bytes: int, turnaround_s: float) -> float:
        """From the request's arrival on the pty to the response's last byte on a real wire."""
        return (
            self.bytes_s(request_bytes)
            + self.silence_s
            + turnaround_s
            + self.bytes_s(response_bytes)
        )

    @property
    def guard_s(self) -> float:
        """Silence after a response before the line can carry the next request."""
        return self.silence_s

    def transaction_s(self, request_bytes: int, response_bytes: int, turnaround_s: float) -> float:
        """Whole bus occupancy of one request/response pair, both silences included."""
        return self.guard_s + self.response_delay_s(request_bytes, response_bytes, turnaround_s)

    def read_transaction_s(self, registers: int, turnaround_s: float, bits: bool = False) -> float:
        """Bus occupancy of one read of ``registers`` registers (or bits) in RTU framing."""
        data = (registers + 7) // 8 if bits else 2 * registers
        return self.transaction_s(READ_REQUEST_BYTES, READ_RESPONSE_OVERHEAD_BYTES + data, turnaround_s)


async def sleep_until(deadline: float) -> None:
    """Sleep until ``time.perf_counter() >= deadline``: asyncio sleep, then a short spin.

    Never returns early; the error is the overshoot (measured in the unit tests).
    """
    remaining = deadline - time.perf_counter()
    if remaining > _SPIN_S:
        await asyncio.sleep(remaining - _SPIN_S)
    while time.perf_counter() < deadline:
        # yield the GIL between checks so other threads (a client in this process) keep running;
        # sleep(0) returns at once, it is not a blocking wait
        time.sleep(0)  # noqa: ASYNC251
