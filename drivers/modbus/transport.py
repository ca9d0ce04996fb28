"""Typed Modbus requests, the ``Transport`` protocol, and the pymodbus client for TCP buses.

On Modbus TCP, pymodbus does the framing; this module builds the client and translates what comes
back: pymodbus exceptions, ``ExceptionResponse`` and timeouts
become ``DeviceTimeout``, ``DeviceException(fc, code)`` and ``TransportError``, and a reply PDU that
does not answer its request (``pdu_response``) a ``FramingError``. RTU (serial lines, RTU over TCP)
has its own master (``rtu_transport``): pymodbus' client takes a late reply for the next request's.
Nothing here reopens a connection: pymodbus' own reconnecting is off, and reopening a missing or
lost port is ``link.py``'s job, bounded and observable.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import serial
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from agent.errors import DeviceException, DeviceTimeout, FramingError, TransportError
from agent.logs import RateLimiter
from drivers.modbus.config import TcpBus
from drivers.modbus.profile import Table
from drivers.serialbus.serial_link import PortMissing as PortMissing  # moved there; imported from here too

if TYPE_CHECKING:  # pymodbus' client (about 1 MiB) is imported only by a TCP bus: RTU has its own master
    from pymodbus.client.base import ModbusBaseClient

log = logging.getLogger(__name__)

MAX_READ_REGISTERS = 125
BROADCAST_UNIT = 0
# Modbus over serial line V1.02, 2.4.1: after a broadcast the master waits a "turnaround delay"
# (typically 100 to 200 ms) so every device has processed the request.
BROADCAST_TURNAROUND_S = 0.2
MAX_READ_BITS = 2000

READ_FUNCTION: dict[Table, int] = {Table.COIL: 1, Table.DISCRETE: 2, Table.HOLDING: 3, Table.INPUT: 4}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    unit: int
    table: Table
    address: int
    count: int

    @property
    def function_code(self) -> int:
        return READ_FUNCTION[self.table]


@dataclass(frozen=True, slots=True)
class WriteCoils:
    """FC5 for one coil, FC15 for several."""

    unit: int
    address: int
    values: tuple[bool, ...]

    @property
    def function_code(self) -> int:
        return 5 if len(self.values) == 1 else 15


@dataclass(frozen=True, slots=True)
class WriteRegisters:
    """FC6 for one register, FC16 for several."""

    unit: int
    address: int
    values: tuple[int, ...]

    @property
    def function_code(self) -> int:
        return 6 if len(self.values) == 1 else 16


@dataclass(frozen=True, slots=True)
class ReadDeviceId:
    """FC43/14 read device identification; ``read_code`` 1 = basic objects (vendor, product, version)."""

    unit: int
    read_code: int = 1
    object_id: int = 0

    @property
    def function_code(self) -> int:
        return 0x2B


ModbusRequest = ReadRequest | WriteCoils | WriteRegisters | ReadDeviceId


@dataclass(frozen=True, slots=True)
class Response:
    """Register values or bits (0/1, exactly ``count`` of them) of a read; FC43 objects by id."""

    values: list[int] = field(default_factory=list)
    objects: dict[int, bytes] = field(default_factory=dict)


class Transport(Protocol):
    """One connection to a bus endpoint. At most one request in flight on it."""

    name: str

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def wait_lost(self) -> None:
        """Return once an open connection is gone (port unplugged, peer closed)."""
        ...

    async def execute(self, request: ModbusRequest) -> Response: ...

    async def close(self) -> None: ...


# Transaction ids, unit ids, counts and frame bytes vary from one repeat to the next: 0x-prefixed
# numbers and words of hex digits holding at least one digit ("0x1f", "124", "b8").
_VARYING = re.compile(r"\b(?:0x[0-9a-f]+|[0-9a-f]*[0-9][0-9a-f]*)\b", re.IGNORECASE)
_KEY_CHARS = 96
_MAX_KEYS = 256


def repeat_key(message: str) -> str:
    """What stays the same when pymodbus repeats a message: its first line, numbers folded."""
    return _VARYING.sub("#", message.split("\n", 1)[0])[:_KEY_CHARS]


class _PymodbusRepeats(logging.Filter):
    """pymodbus logs an error per unanswered request; a dead device must not log once per poll.
    We report those failures ourselves (typed errors, state changes), so repeats are folded.
    At most ``max_keys`` distinct messages are remembered (oldest forgotten first)."""

    def __init__(self, max_keys: int = _MAX_KEYS) -> None:
        super().__init__()
        self._limiter = RateLimiter(300.0)
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._max_keys = max_keys
        self._lock = threading.Lock()  # a pymodbus client may log from a thread of its own

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True  # debug frame dumps exist only under -v; agent.frame_log budgets them per link
        key = repeat_key(record.getMessage())
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self._max_keys:
                oldest, _ = self._keys.popitem(last=False)
                self._limiter.reset(oldest)
            return self._limiter.allow(key) is not None

    @property
    def remembered(self) -> int:
        return len(self._keys)


_pymodbus_filter = _PymodbusRepeats()


def _fold_pymodbus_repeats() -> None:
    logger = logging.getLogger("pymodbus.logging")
    if _pymodbus_filter not in logger.filters:
        logger.addFilter(_pymodbus_filter)


def _where(name: str, unit: int) -> str:
    return f"{name}/unit{unit}"


class _LinkEvents:
    """pymodbus' ``trace_connect`` callback: set ``lost`` when a connection goes away."""

    def __init__(self) -> None:
        self.lost = asyncio.Event()

    def changed(self, connected: bool) -> None:
        if connected:
            self.lost.clear()
        else:
            self.lost.set()


LOST_CHECK_S = 5.0  # wait_lost also looks every few seconds, in case a loss came without a callback


class PymodbusTransport:
    """A pymodbus async client. pymodbus retries and reconnects are off: the bus queue decides about
    retries, the bus's link keeper about reopening."""

    def __init__(self, name: str, client: ModbusBaseClient, timeout_s: float, events: _LinkEvents | None = None):
        self.name = name
        self._client = client
        self._timeout_s = timeout_s
        self._events = events or _LinkEvents()
        _fold_pymodbus_repeats()

    @classmethod
    def for_bus(cls, bus: TcpBus) -> PymodbusTransport:
        """Modbus TCP (MBAP: transaction ids match replies). RTU frames, on a serial line or over TCP,
        go through ``rtu_transport.RtuTransport``."""
        from pymodbus.client import AsyncModbusTcpClient

        events = _LinkEvents()
        client = AsyncModbusTcpClient(
            bus.host,
            port=bus.port,
            framer=FramerType.SOCKET,
            timeout=bus.timeout_s,
            retries=0,
            name=bus.name,
            reconnect_delay=0,
            trace_connect=events.changed,
        )
        return cls(bus.name, client, bus.timeout_s, events=events)

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(self) -> None:
        if self.connected:
            return
        try:
            connected = await self._client.connect()
        except (ModbusException, OSError, serial.SerialException) as exc:
            raise TransportError(f"{self.name}: cannot connect: {exc}") from None
        if not connected:
            raise TransportError(f"{self.name}: cannot connect to {self._endpoint()}")

    async def wait_lost(self) -> None:
        while self.connected:
            self._events.lost.clear()
            try:
                async with asyncio.timeout(LOST_CHECK_S):
                    await self._events.lost.wait()
            except TimeoutError:
                continue

    def _endpoint(self) -> str:
        params = self._client.ctx.comm_params
        return f"{params.host}:{params.port}" if params.port else str(params.host)

    async def close(self) -> None:
        self._client.close()

    async def execute(self, request: ModbusRequest) -> Response:
        # a guard above pymodbus' own timeout, in case a response future is never resolved
        guard = self._timeout_s * 2 + 1.0
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races
            # with the response, and a driver being stopped would then poll on forever
            async with asyncio.timeout(guard):
                pdu = await self._call(request)
        except (TimeoutError, ModbusIOException):
            raise DeviceTimeout(_where(self.name, request.unit), "no response") from None
        except ConnectionException as exc:
            raise TransportError(f"{self.name}: {exc}") from None
        except (ModbusException, OSError, serial.SerialException) as exc:
            raise TransportError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        where = _where(self.name, request.unit)
        if pdu is None:  # a broadcast: nothing answers
            return Response()
        if isinstance(pdu, ExceptionResponse) or pdu.isError():
            if pdu.function_code & 0x7F != request.function_code:
                raise FramingError(where, f"exception reply for function {pdu.function_code & 0x7F}")
            raise DeviceException(where, request.function_code, int(getattr(pdu, "exception_code", 0)))
        return pdu_response(where, request, pdu)

    async def _call(self, request: ModbusRequest) -> ModbusPDU | None:
        client = self._client
        unit = request.unit
        if isinstance(request, ReadRequest):
            address, count = request.address, request.count
            if request.table is Table.HOLDING:
                return await client.read_holding_registers(address, count=count, device_id=unit)
            if request.table is Table.INPUT:
                return await client.read_input_registers(address, count=count, device_id=unit)
            if request.table is Table.COIL:
                return await client.read_coils(address, count=count, device_id=unit)
            return await client.read_discrete_inputs(address, count=count, device_id=unit)
        if isinstance(request, ReadDeviceId):
            return await client.read_device_information(
                read_code=request.read_code, object_id=request.object_id, device_id=unit
            )
        broadcast = unit == BROADCAST_UNIT  # every device applies it, none answers
        if isinstance(request, WriteCoils):
            if len(request.values) == 1:
                pdu = await client.write_coil(
                    request.address, request.values[0], device_id=unit, no_response_expected=broadcast
                )
            else:
                pdu = await client.write_coils(
                    request.address, list(request.values), device_id=unit, no_response_expected=broadcast
                )
        elif len(request.values) == 1:
            pdu = await client.write_register(
                request.address, request.values[0], device_id=unit, no_response_expected=broadcast
            )
        else:
            pdu = await client.write_registers(
                request.address, list(request.values), device_id=unit, no_response_expected=broadcast
            )
        if broadcast:
            await asyncio.sleep(BROADCAST_TURNAROUND_S)  # let every device apply it before the next request
            return None
        return pdu


def pdu_response(where: str, request: ModbusRequest, pdu: ModbusPDU) -> Response:
    """The values of a decoded reply PDU; a PDU that does not answer ``request`` is a ``FramingError``."""
    if pdu.function_code != request.function_code:
        raise FramingError(where, f"reply of function {pdu.function_code} to function {request.function_code}")
    if isinstance(request, ReadRequest):
        if request.table.is_bit:
            values = [1 if b else 0 for b in pdu.bits[: request.count]]
        else:
            values = [int(r) for r in pdu.registers]
        expected = (request.count + 7) // 8 * 8 if request.table.is_bit else request.count
        got = len(pdu.bits) if request.table.is_bit else len(values)
        if got != expected:
            raise FramingError(where, f"reply holds {got} values, {request.count} were asked for")
        return Response(values=values)
    if isinstance(request, ReadDeviceId):
        info: dict[int, bytes] = dict(getattr(pdu, "information", {}) or {})
        return Response(objects=info)
    if pdu.address != request.address:
        raise FramingError(where, f"write reply echoes address {pdu.address}, not {request.address}")
    if len(request.values) > 1:
        if pdu.count != len(request.values):
            raise FramingError(where, f"write reply echoes quantity {pdu.count}, not {len(request.values)}")
    elif isinstance(request, WriteCoils):
        if list(pdu.bits[:1]) != [request.values[0]]:
            raise FramingError(where, "single coil write echoes another value")
    elif list(pdu.registers[:1]) != [request.values[0]]:
        raise FramingError(where, "single register write echoes another value")
    return Response()
