"""Asking a device again about the register ranges it refused, once their back-off is over.

Each due range is read as it is (in chunks the device's read limit allows). Read: the range is
forgotten. Refused with exception 2 again: its wait doubles. Any other answer gives no verdict and
waits the same time again; no answer at all ends the round for every due range, so a silent device
never holds the shared line one timeout per range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from agent.errors import DeviceError, DeviceException, TransportError
from drivers.modbus.bus import BusQueue
from drivers.modbus.learned import IllegalRanges, LearnedRange
from drivers.modbus.profile import ReadLimits
from drivers.modbus.transport import MAX_READ_BITS, MAX_READ_REGISTERS, ReadRequest

ILLEGAL_DATA_ADDRESS = 2
MAX_PROBES_PER_ROUND = 8  # the rest waits for the next round, after the due polls


class Verdict(Enum):
    LEGAL = "legal"
    ILLEGAL = "illegal"
    UNSURE = "unsure"  # another exception (busy, device failure)
    SILENT = "silent"  # no answer, or the bus is down


@dataclass
class ReprobeRound:
    forgotten: list[LearnedRange] = field(default_factory=list)
    refused: list[LearnedRange] = field(default_factory=list)
    requests: int = 0
    silent: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.forgotten or self.refused)


async def reprobe_due(bus: BusQueue, unit: int, illegal: IllegalRanges, limits: ReadLimits) -> ReprobeRound:
    """Re-read the ranges whose time has come; updates ``illegal`` and says what changed."""
    result = ReprobeRound()
    due = illegal.due()[:MAX_PROBES_PER_ROUND]
    for entry in due:
        verdict = await _ask(bus, unit, entry, limits, result)
        if verdict is Verdict.LEGAL:
            illegal.clear_span(entry.table, entry.start, entry.end)
            result.forgotten.append(entry)
        elif verdict is Verdict.ILLEGAL:
            illegal.refused_again(entry)
            result.refused.append(entry)
        elif verdict is Verdict.UNSURE:
            illegal.postpone(entry)
        else:
            for waiting in illegal.due():  # all of them, not just this round's: no burst of timeouts
                illegal.postpone(waiting)
            result.silent = True
            break
    return result


async def _ask(bus: BusQueue, unit: int, entry: LearnedRange, limits: ReadLimits, result: ReprobeRound) -> Verdict:
    caps = (limits.max_bits, MAX_READ_BITS) if entry.table.is_bit else (limits.max_registers, MAX_READ_REGISTERS)
    step = max(min(caps), 1)
    for start in range(entry.start, entry.end, step):
        count = min(step, entry.end - start)
        result.requests += 1
        try:
            await bus.execute(ReadRequest(unit, entry.table, start, count), retries=0)
        except DeviceException as exc:
            return Verdict.ILLEGAL if exc.exception_code == ILLEGAL_DATA_ADDRESS else Verdict.UNSURE
        except (DeviceError, TransportError):
            return Verdict.SILENT
    return Verdict.LEGAL
