"""What one raw Modbus request may ask, checked before it goes anywhere, in one line a technician reads.

A raw read or write from the command line (or the control socket) names a unit, a table, an
address and a count or values. The PDU limits are the protocol's (Modbus application protocol
v1.1b3, 6.1-6.12): a register holds 0..65535, one read carries at most 125 registers or 2000 bits,
one write at most 123 registers or 1968 coils. ``InvalidRequest`` names the first thing wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.errors import InvalidRequest
from drivers.modbus.profile import Table
from drivers.modbus.transport import MAX_READ_BITS, MAX_READ_REGISTERS

MAX_WRITE_REGISTERS = 123  # FC16: 246 data bytes
MAX_WRITE_COILS = 1968  # FC15: 246 data bytes of 8 coils
LAST_ADDRESS = 0xFFFF
LAST_UNIT = 247
BROADCAST_UNIT = 0


def _what(table: Table, count: int) -> str:
    if table.is_bit:
        return "bit" if count == 1 else "bits"
    return "register" if count == 1 else "registers"


def check_unit(unit: int, *, write: bool) -> None:
    if write and unit == BROADCAST_UNIT:
        return
    if not 1 <= unit <= LAST_UNIT:
        low = 0 if write else 1
        raise InvalidRequest(f"--unit must be {low}..{LAST_UNIT}, got {unit}")


def check_span(table: Table, address: int, count: int, limit: int, verb: str) -> None:
    """``address`` and ``count`` of one request: inside the table and within one PDU."""
    if not 0 <= address <= LAST_ADDRESS:
        raise InvalidRequest(f"--address must be 0..65535 (0x0000..0xFFFF), got {address}")
    if not 1 <= count <= limit:
        raise InvalidRequest(f"one request {verb} 1..{limit} {table.value} {_what(table, 2)}, got {count}")
    if address + count - 1 > LAST_ADDRESS:
        raise InvalidRequest(f"{count} {_what(table, count)} from address {address} run past the last address 65535")


def check_raw_read(unit: int, table: Table, address: int, count: int) -> None:
    """Raises ``InvalidRequest``; unit 0 (broadcast) is refused apart, by ``RequestRefused``."""
    if unit != BROADCAST_UNIT:
        check_unit(unit, write=False)
    check_span(table, address, count, MAX_READ_BITS if table.is_bit else MAX_READ_REGISTERS, "reads")


def check_raw_write(unit: int, table: Table, address: int, values: Sequence[int]) -> None:
    """Raises ``InvalidRequest`` for a read-only table or a value no register/coil holds."""
    check_unit(unit, write=True)
    if not table.writable:
        raise InvalidRequest(f"the {table.value} table is read-only: write to holding or coil")
    limit = MAX_WRITE_COILS if table.is_bit else MAX_WRITE_REGISTERS
    check_span(table, address, len(values), limit, "writes")
    for value in values:
        if table.is_bit and value not in (0, 1):
            raise InvalidRequest(f"a coil is 0 or 1, got {value}")
        if not table.is_bit and not 0 <= value <= 0xFFFF:
            hint = (
                f"; a signed -1..-32768 is its two's complement, here 0x{value & 0xFFFF:04X}"
                if (-0x8000 <= value < 0)
                else ""
            )
            raise InvalidRequest(
                f"a register holds 0..65535 (0x0000..0xFFFF), got {value}{hint} "
                "(or write the point by name and let its profile encode it)"
            )
