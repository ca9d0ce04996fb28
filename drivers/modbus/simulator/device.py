"""One simulated Modbus device: a profile's register map filled by value generators.

``handle(request)`` turns a decoded request PDU into the response PDU a real device would send:
reads refresh the points they touch from their generators (a written point keeps the value written),
writes update the table so a read-back verifies, addresses outside the map answer exception 2 unless
``holes="allow"``. Whether the answer goes on the wire at all (silence, drops, corrupt CRC, extra
delay) is the faults' business, decided by the server through ``decide_faults()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from enum import StrEnum

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsResponse,
    ReadDiscreteInputsResponse,
    WriteMultipleCoilsResponse,
    WriteSingleCoilResponse,
)
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest, ReadDeviceInformationResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterResponse,
)

from agent.logs import RateLimiter, log_limited
from agent.records import PointValue
from drivers.modbus.codec import CodecError, decode_point, encode_point, raw_range
from drivers.modbus.generator_specs import (
    AnyGeneratorSpec,
    ConstantSpec,
    CounterSpec,
    RandomWalkSpec,
    SequenceSpec,
    SineSpec,
)
from drivers.modbus.profile import DataType, IdentRegister, Point, Profile, Table
from drivers.modbus.simulator.defaults import default_spec
from drivers.modbus.simulator.faults import Fault, FaultDecision, FaultSet, parse_fault
from drivers.modbus.simulator.generators import Constant, ValueSource, make_source
from drivers.modbus.simulator.image import RegisterImage

_log = logging.getLogger(__name__)
_limiter = RateLimiter(60.0)

GeneratorLike = AnyGeneratorSpec | ValueSource | PointValue

_READ_TABLE = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}
_READ_RESPONSE: dict[int, type[ModbusPDU]] = {
    1: ReadCoilsResponse,
    2: ReadDiscreteInputsResponse,
    3: ReadHoldingRegistersResponse,
    4: ReadInputRegistersResponse,
}


class HolePolicy(StrEnum):
    REJECT = "reject"  # exception 2 for any address outside the map, like most real devices
    ALLOW = "allow"  # unmapped addresses read as zero


class SimulatedDevice:
    """A profile-driven device answering on one unit id. Serve it on any number of buses."""

    def __init__(
        self,
        unit: int,
        profile: Profile,
        generators: Mapping[str, GeneratorLike] | None = None,
        *,
        holes: HolePolicy | str = HolePolicy.REJECT,
        turnaround_ms: float | None = None,
        faults: list[Fault | str] | None = None,
        firmware: str | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= unit <= 247:
            raise ValueError(f"unit id must be 1..247, got {unit}")
        unknown = sorted(set(generators or {}) - set(profile.points))
        if unknown:
            raise ValueError(f"{profile.id}: no such points {unknown}; known: {sorted(profile.points)}")
        self.unit = unit
        self.profile = profile
        self.holes = HolePolicy(holes)
        self.turnaround_s = (
            turnaround_ms if turnaround_ms is not None else profile.limits.turnaround_ms
        ) / 1000.0
        self.name = f"{profile.id}@{unit}"
        self.firmware = firmware
        self.requests = 0
        self._seed = seed
        self._faults = FaultSet(_parse_faults(faults), seed)
        self._clock = clock
        self._start = clock()
        self._image = RegisterImage()
        self._pinned: set[str] = set()  # written points keep the written value
        self._sources: dict[str, ValueSource] = {}
        self._constant: set[str] = set()  # encoded once, not on every read (1000-device benches)
        for name, point in profile.points.items():
            self._image.claim(name, point)
            given = (generators or {}).get(name)
            self._set_source(name, _as_source(given if given is not None else default_spec(name, point)))
        self._load_identification(profile.identification.registers, firmware)

    # ----------------------------------------------------------------------------- faults

    @property
    def faults(self) -> FaultSet:
        return self._faults

    def set_faults(self, faults: list[Fault | str] | None) -> None:
        """Replace the active faults (``[]`` or None clears them). Safe to call from another thread."""
        self._faults = FaultSet(_parse_faults(faults), self._seed)

    def decide_faults(self) -> FaultDecision:
        return self._faults.decide()

    # ----------------------------------------------------------------------------- values

    def set_generator(self, point: str, generator: GeneratorLike) -> None:
        """Replace a point's generator at run time; clears a value pinned by a write."""
        if point not in self.profile.points:
            raise ValueError(f"{self.profile.id}: no such point {point!r}")
        self._pinned.discard(point)
        self._set_source(point, _as_source(generator))

    def value_of(self, point: str) -> PointValue:
        """The engineering value the table holds now (what the last read returned), without advancing."""
        spec = self.profile.points[point]
        width = 1 if spec.table.is_bit else spec.register_count
        return decode_point(spec, self._image.read(spec.table, spec.address, width))

    # ----------------------------------------------------------------------------- requests

    def handle(self, request: ModbusPDU) -> ModbusPDU:
        """The response to ``request`` (an exception response when the device refuses it)."""
        self.requests += 1
        fc = request.function_code
        forced = self._faults.exception_code
        if forced is not None:
            return self._exception(fc, forced)
        if fc in _READ_TABLE:
            return self._read(fc, request.address, request.count)
        if fc == 5:
            return self._write(fc, Table.COIL, request.address, [1 if request.bits[0] else 0], request)
        if fc == 15:
            bits = [1 if bit else 0 for bit in request.bits[: request.count]]
            return self._write(fc, Table.COIL, request.address, bits, request)
        if fc in (6, 16):
            return self._write(fc, Table.HOLDING, request.address, list(request.registers), request)
        if isinstance(request, ReadDeviceInformationRequest):
            return self._device_information(request)
        return self._exception(fc, ExcCodes.ILLEGAL_FUNCTION)

    def _read(self, fc: int, address: int, count: int) -> ModbusPDU:
        table = _READ_TABLE[fc]
        limit = 2000 if table.is_bit else 125
        if not 1 <= count <= limit or address + count > 0x10000:
            return self._exception(fc, ExcCodes.ILLEGAL_VALUE)
        if self.holes is HolePolicy.REJECT and not self._image.covered(table, address, count):
            return self._exception(fc, ExcCodes.ILLEGAL_ADDRESS)
        for name in self._image.points_in(table, address, count):
            self._refresh(name)
        values = self._image.read(table, address, count)
        response = _READ_RESPONSE[fc]
        if table.is_bit:
            return response(bits=[bool(v) for v in values], dev_id=self.unit)
        return response(registers=values, dev_id=self.unit)

    def _write(self, fc: int, table: Table, address: int, words: list[int], request: ModbusPDU) -> ModbusPDU:
        if not words or address + len(words) > 0x10000:
            return self._exception(fc, ExcCodes.ILLEGAL_VALUE)
        names = self._image.points_in(table, address, len(words))
        if self.holes is HolePolicy.REJECT and not self._image.covered(table, address, len(words)):
            return self._exception(fc, ExcCodes.ILLEGAL_ADDRESS)
        points = self.profile.points
        if any(name not in points or not points[name].access.writable for name in names):
            return self._exception(fc, ExcCodes.ILLEGAL_ADDRESS)
        self._image.store(table, address, words)
        self._pinned.update(names)
        if fc == 5:
            return WriteSingleCoilResponse(address=address, bits=[bool(words[0])], dev_id=self.unit)
        if fc == 6:
            return WriteSingleRegisterResponse(address=address, registers=words, dev_id=self.unit)
        if fc == 15:
            return WriteMultipleCoilsResponse(address=address, count=len(words), dev_id=self.unit)
        return WriteMultipleRegistersResponse(address=address, count=len(words), dev_id=self.unit)

    def _device_information(self, request: ReadDeviceInformationRequest) -> ModbusPDU:
        """FC43/14, only for profiles that declare ``identification.device_id`` (most cheap devices don't)."""
        ident = self.profile.identification.device_id
        if ident is None:
            return self._exception(request.function_code, ExcCodes.ILLEGAL_FUNCTION)
        objects = {
            0x00: ident.vendor_name or self.profile.vendor,
            0x01: ident.product_code or self.profile.model,
            0x02: self.firmware or "1.0",
            0x04: self.profile.model,
            0x05: ident.model_name or self.profile.model,
        }
        if request.read_code == 4:  # one specific object
            if request.object_id not in objects:
                return self._exception(request.function_code, ExcCodes.ILLEGAL_ADDRESS)
            chosen = {request.object_id: objects[request.object_id]}
        else:
            last = 0x02 if request.read_code == 1 else 0x05
            chosen = {k: v for k, v in objects.items() if k <= last}
        information = {k: v.encode("latin-1", "replace") for k, v in chosen.items()}
        return ReadDeviceInformationResponse(read_code=request.read_code, information=information, dev_id=self.unit)

    def _exception(self, fc: int, code: int) -> ModbusPDU:
        return ExceptionResponse(fc, code, device_id=self.unit)

    # ----------------------------------------------------------------------------- internals

    def _set_source(self, name: str, source: ValueSource) -> None:
        self._sources[name] = source
        self._constant.discard(name)
        self._refresh(name)
        if isinstance(source, Constant):
            self._constant.add(name)

    def _refresh(self, name: str) -> None:
        source = self._sources.get(name)
        if source is None or name in self._pinned or name in self._constant:
            return  # identification registers are fixed; written points keep the written value
        point = self.profile.points[name]
        value = source.value(self._clock() - self._start)
        try:
            words = encode_point(point, _fit(point, value))
        except CodecError as exc:
            log_limited(
                _limiter, _log, f"{self.name}.{name}", "sim_value_unencodable",
                device=self.name, point=name, value=value, error=str(exc),
            )
            return
        self._image.store(point.table, point.address, words)

    def _load_identification(self, registers: list[IdentRegister], firmware: str | None) -> None:
        for index, reg in enumerate(registers):
            point = Point(
                table=reg.table, address=reg.address, type=reg.type, length=reg.length,
                byte_order=reg.byte_order, word_order=reg.word_order,
            )
            value = _ident_value(reg, firmware)
            if value is None:
                continue
            width = point.register_count if not point.table.is_bit else 1
            shared = self._image.points_in(point.table, point.address, width)
            if shared and not (reg.firmware and firmware is not None):
                continue  # the register is also a profile point: its generator decides
            self._image.claim(f"_ident{index}", point)
            self._pinned.update(shared)  # an explicit firmware wins over the point's generator
            try:
                self._image.store(point.table, point.address, encode_point(point, value))
            except CodecError as exc:
                raise ValueError(f"{self.profile.id}: identification register {reg.address}: {exc}") from None


def _ident_value(reg: IdentRegister, firmware: str | None) -> PointValue:
    if reg.firmware and firmware is not None:
        if reg.type is DataType.STRING:
            return firmware
        # numeric firmware registers usually hold major*100 + minor ("2.10" -> 210)
        major, _, minor = firmware.partition(".")
        try:
            return int(major) * 100 + int(minor or 0)
        except ValueError:
            raise ValueError(f"firmware {firmware!r} is not numeric for register {reg.address}") from None
    expect = reg.expect[0] if isinstance(reg.expect, list) else reg.expect
    if expect is None:
        return "" if reg.type is DataType.STRING else 0
    return expect


def _parse_faults(faults: list[Fault | str] | None) -> list[Fault]:
    return [f if isinstance(f, Fault) else parse_fault(f) for f in faults or ()]


def _as_source(given: GeneratorLike) -> ValueSource:
    if isinstance(given, ConstantSpec | SineSpec | RandomWalkSpec | CounterSpec | SequenceSpec):
        return make_source(given)
    if given is None or isinstance(given, bool | int | float | str):
        return make_source(ConstantSpec(value=given if given is not None else 0))
    return given


def _fit(point: Point, value: PointValue) -> PointValue:
    """Clamp numeric generator output into what the point's type can hold (a sine may overshoot)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if point.table.is_bit or point.type in (DataType.BOOL, DataType.STRING):
        return value
    low, high = raw_range(point)
    return min(max(value, low), high)
