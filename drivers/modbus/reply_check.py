"""Is this frame the answer to that request? Pure, no I/O.

RTU has no transaction id, so a reply is recognised by what it must echo: the unit, the function
code (or the same code with the exception bit), the byte count a read of ``count`` registers or bits
produces, and for writes the address and value (FC5/6) or address and quantity (FC15/16). Anything
else is a ``Mismatch``: counted on the unit that sent it, never decoded into values.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.modbus.transport import ModbusRequest, ReadDeviceId, ReadRequest

MEI_READ_DEVICE_ID = 0x0E


@dataclass(frozen=True, slots=True)
class Matches:
    """The PDU answers the request (values still to be decoded)."""


@dataclass(frozen=True, slots=True)
class ExceptionReply:
    """A well-formed exception answering exactly this request's unit and function."""

    code: int


@dataclass(frozen=True, slots=True)
class Mismatch:
    reason: str


Verdict = Matches | ExceptionReply | Mismatch


def expected_byte_count(request: ReadRequest) -> int:
    return (request.count + 7) // 8 if request.table.is_bit else 2 * request.count


def check_reply(request: ModbusRequest, request_pdu: bytes, unit: int, pdu: bytes) -> Verdict:
    """Judge ``pdu`` (function code first) from ``unit`` against ``request``, whose own PDU is
    ``request_pdu`` (what a write reply must echo)."""
    if unit != request.unit:
        return Mismatch(f"unit {unit}, expected {request.unit}")
    function = request.function_code
    if not pdu:
        return Mismatch("empty PDU")
    if pdu[0] == function | 0x80:
        if len(pdu) != 2:
            return Mismatch(f"exception reply of {len(pdu)} bytes")
        return ExceptionReply(pdu[1])
    if pdu[0] != function:
        return Mismatch(f"function {pdu[0]}, expected {function}")
    if isinstance(request, ReadRequest):
        expected = expected_byte_count(request)
        if len(pdu) < 2 or pdu[1] != expected or len(pdu) != 2 + expected:
            got = pdu[1] if len(pdu) > 1 else None
            return Mismatch(f"byte count {got}, expected {expected} for {request.count} {request.table}")
        return Matches()
    if isinstance(request, ReadDeviceId):
        if len(pdu) < 3 or pdu[1] != MEI_READ_DEVICE_ID or pdu[2] != request.read_code:
            return Mismatch("device identification reply for another MEI type or read code")
        return Matches()
    if function in (5, 6):
        # a single write echoes the request PDU: address and value
        return Matches() if pdu == request_pdu else Mismatch("write echo differs from the request")
    # FC15/16 echo address and quantity
    if pdu[:5] != request_pdu[:5] or len(pdu) != 5:
        return Mismatch("write reply echoes another address or quantity")
    return Matches()
