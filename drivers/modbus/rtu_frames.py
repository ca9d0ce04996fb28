"""RTU framing, bytes <-> frames, with no I/O: pymodbus' PDU classes, frame sizes and CRC.

``request_frame`` encodes a typed request. ``cut_frame`` takes received bytes and says what the
first frame in them is: complete and sound, corrupt (CRC), not framable (noise), or incomplete.
pymodbus' own ``FramerRTU.decode`` hunts through garbage for anything that passes a CRC; a master
that knows what it asked for wants each frame judged where it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteMultipleCoilsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from drivers.modbus.profile import Table
from drivers.modbus.transport import ModbusRequest, ReadDeviceId, ReadRequest, WriteCoils

MAX_FRAME = 256  # Modbus serial line: unit + 253-byte PDU + CRC

_RESPONSES = DecodePDU(is_server=False)
_FRAMER = FramerRTU(_RESPONSES)

_READ_PDUS: dict[Table, type[ModbusPDU]] = {
    Table.COIL: ReadCoilsRequest,
    Table.DISCRETE: ReadDiscreteInputsRequest,
    Table.HOLDING: ReadHoldingRegistersRequest,
    Table.INPUT: ReadInputRegistersRequest,
}


def request_pdu(request: ModbusRequest) -> ModbusPDU:
    unit = request.unit
    if isinstance(request, ReadRequest):
        return _READ_PDUS[request.table](address=request.address, count=request.count, dev_id=unit)
    if isinstance(request, WriteCoils):
        if len(request.values) == 1:
            return WriteSingleCoilRequest(address=request.address, bits=list(request.values), dev_id=unit)
        return WriteMultipleCoilsRequest(address=request.address, bits=list(request.values), dev_id=unit)
    if isinstance(request, ReadDeviceId):
        return ReadDeviceInformationRequest(read_code=request.read_code, object_id=request.object_id, dev_id=unit)
    if len(request.values) == 1:
        return WriteSingleRegisterRequest(address=request.address, registers=list(request.values), dev_id=unit)
    return WriteMultipleRegistersRequest(address=request.address, registers=list(request.values), dev_id=unit)


def request_frame(request: ModbusRequest) -> bytes:
    """The RTU frame (unit, PDU, CRC) of ``request``."""
    return _FRAMER.buildFrame(request_pdu(request))


def decode_response(pdu: bytes) -> ModbusPDU | None:
    """pymodbus' response object for a PDU (function code first), None when it does not decode."""
    return _RESPONSES.decode(pdu)


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame whose CRC is sound. ``pdu`` starts at the function code."""

    unit: int
    pdu: bytes
    size: int


@dataclass(frozen=True, slots=True)
class Corrupt:
    """Bytes that are not a sound frame: a failed CRC, an unknown function code, an impossible size.
    ``unit`` is the id the first byte claims (not to be trusted, only to count against)."""

    unit: int
    size: int
    reason: str


@dataclass(frozen=True, slots=True)
class Incomplete:
    """The frame at the start of the buffer has not fully arrived."""

    unit: int


Cut = Frame | Corrupt | Incomplete


def cut_frame(buffer: bytes) -> Cut:
    """The first frame in ``buffer`` (which must start where a frame starts).

    A corrupt frame's extent cannot be trusted, so ``Corrupt`` covers the whole buffer: the caller
    drops it and waits for silence.
    """
    unit = buffer[0] if buffer else -1
    if len(buffer) < 2:
        return Incomplete(unit)
    pdu_class = _RESPONSES.lookupPduClass(buffer)
    if pdu_class is None:
        return Corrupt(unit, len(buffer), f"unknown function code {buffer[1]}")
    size = pdu_class.calculateRtuFrameSize(buffer)
    if size == 0 or size > len(buffer):
        # FC43's size helper answers 998/999 while the object list is still arriving
        if len(buffer) >= MAX_FRAME:
            return Corrupt(unit, len(buffer), "no frame within 256 bytes")
        return Incomplete(unit)
    if size > MAX_FRAME or size < 5:
        return Corrupt(unit, len(buffer), f"impossible frame size {size}")
    crc = int.from_bytes(buffer[size - 2 : size], "big")
    if not FramerRTU.check_CRC(buffer[: size - 2], crc):
        return Corrupt(unit, len(buffer), "CRC error")
    return Frame(unit, bytes(buffer[1 : size - 2]), size)
