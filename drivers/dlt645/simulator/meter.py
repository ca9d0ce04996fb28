"""One simulated DL/T 645 meter: a profile's data items filled by value generators.

``accepts(frame)`` says whether a request is for this meter (its address, a wildcard that matches
it, or the broadcast address); ``handle(frame)`` returns the reply a real meter would send, or None
for a broadcast. Reads of an item the profile lacks get an abnormal reply ("no data requested");
relay control checks the password. Whether a reply goes on the wire at all, late or damaged, is the
faults' business (the same fault words as the Modbus simulator), decided by the line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from agent.logs import RateLimiter, log_limited
from agent.records import PointValue
from drivers.dlt645 import bcd
from drivers.dlt645.address import MeterAddress
from drivers.dlt645.codes import ABNORMAL, REPLY, Edition, ErrorKind, Function, error_byte
from drivers.dlt645.di import DataId
from drivers.dlt645.frame import Frame
from drivers.dlt645.profile import Dlt645Point, Dlt645Profile
from drivers.dlt645.requests import Password, RelayCommand
from drivers.dlt645.simulator.values import GeneratorLike, as_source, default_source, fit
from drivers.modbus.simulator.faults import Fault, FaultDecision, FaultSet, parse_fault
from drivers.modbus.simulator.generators import ValueSource

_log = logging.getLogger(__name__)
_limiter = RateLimiter(60.0)
_RELAY_DATA = 16  # PA P0 P1 P2, C0..C3, N1 N2, N3..N8
DEFAULT_RELAY_PASSWORD = Password(2, "000000")


class SimulatedMeter:
    """A profile-driven meter answering on one address."""

    def __init__(
        self,
        address: MeterAddress | str,
        profile: Dlt645Profile,
        generators: Mapping[str, GeneratorLike] | None = None,
        *,
        turnaround_ms: float | None = None,
        faults: list[Fault | str] | None = None,
        relay_password: Password = DEFAULT_RELAY_PASSWORD,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address if isinstance(address, MeterAddress) else MeterAddress.parse(address)
        if self.address.has_wildcard or self.address.is_broadcast:
            raise ValueError(f"a meter's own address is 12 digits, not {self.address}")
        unknown = sorted(set(generators or {}) - set(profile.points))
        if unknown:
            raise ValueError(f"{profile.id}: no such points {unknown}; known: {sorted(profile.points)}")
        self.profile = profile
        self.edition = profile.edition
        self.name = f"{profile.id}@{self.address}"
        self.turnaround_s = (profile.timing.turnaround_ms if turnaround_ms is None else turnaround_ms) / 1000.0
        self.relay_password = relay_password
        self.relay: RelayCommand | None = None  # the last relay command applied
        self.clock_set_to: datetime | None = None  # the last broadcast time sync received
        self.requests = 0
        self._seed = seed
        self._faults = FaultSet(_parse_faults(faults), seed)
        self._clock = clock
        self._start = clock()
        self._by_di: dict[DataId, str] = {}
        self._sources: dict[str, ValueSource] = {}
        self.last_values: dict[str, PointValue] = {}
        for name, point in profile.points.items():
            self._by_di[point.data_id] = name
            given = (generators or {}).get(name)
            self._sources[name] = as_source(given) if given is not None else default_source(point, self.address)

    # ----------------------------------------------------------------------------- faults

    def set_faults(self, faults: list[Fault | str] | None) -> None:
        """Replace the active faults (``[]`` clears them). Safe to call from another thread."""
        self._faults = FaultSet(_parse_faults(faults), self._seed)

    def decide_faults(self) -> FaultDecision:
        return self._faults.decide()

    def set_generator(self, point: str, generator: GeneratorLike) -> None:
        if point not in self.profile.points:
            raise ValueError(f"{self.profile.id}: no such point {point!r}")
        self._sources[point] = as_source(generator)

    # ----------------------------------------------------------------------------- requests

    def accepts(self, frame: Frame) -> bool:
        """Is this request for me? My address, a wildcard matching it, or a broadcast."""
        if frame.is_reply:
            return False
        try:
            target = MeterAddress.from_wire(frame.address)
        except ValueError:
            return False
        return target.is_broadcast or target.matches(self.address)

    def handle(self, frame: Frame) -> Frame | None:
        """The reply to ``frame`` (already accepted), or None when the request wants none."""
        self.requests += 1
        function = frame.function
        if MeterAddress.from_wire(frame.address).is_broadcast:
            if function == Function.BROADCAST_TIME:
                self._set_clock(frame.data)
            return None
        forced = self._faults.exception_code
        if forced is not None:
            return self._abnormal(function, forced)
        if function == Function.READ_ADDRESS and self.edition is Edition.V2007:
            return self._reply(function, self.address.wire)
        if function == self.edition.read_data:
            return self._read(function, frame.data)
        if function == Function.RELAY_CONTROL and self.edition is Edition.V2007:
            return self._relay(function, frame.data)
        return self._abnormal(function, error_byte([self._other()], self.edition))

    def value_of(self, point: str) -> PointValue:
        """The engineering value the last read of ``point`` served."""
        return self.last_values[point]

    def _read(self, function: int, data: bytes) -> Frame:
        width = self.edition.di_width
        if len(data) != width:
            return self._abnormal(function, error_byte([self._other()], self.edition))
        name = self._by_di.get(DataId.from_wire(data))
        if name is None:
            missing = ErrorKind.NO_DATA if self.edition is Edition.V2007 else ErrorKind.UNKNOWN_DI
            return self._abnormal(function, error_byte([missing], self.edition))
        point = self.profile.points[name]
        value = fit(point, self._sources[name].value(self._clock() - self._start))
        try:
            raw = _encode(point, value)
        except bcd.BcdError as exc:  # a generator's value the item cannot hold: the meter says so
            log_limited(
                _limiter, _log, f"{self.name}.{name}", "sim_value_unencodable",
                meter=self.name, point=name, value=value, error=str(exc),
            )
            return self._abnormal(function, error_byte([self._other()], self.edition))
        self.last_values[name] = value
        return self._reply(function, data + raw)

    def _relay(self, function: int, data: bytes) -> Frame:
        if len(data) != _RELAY_DATA:
            return self._abnormal(function, error_byte([ErrorKind.OTHER]))
        if data[:4] != self.relay_password.wire:
            return self._abnormal(function, error_byte([ErrorKind.UNAUTHORISED]))
        try:
            self.relay = RelayCommand(data[8])
        except ValueError:
            return self._abnormal(function, error_byte([ErrorKind.OTHER]))
        return self._reply(function, b"")

    def _set_clock(self, data: bytes) -> None:
        if len(data) != 6:
            return
        try:
            ss, mm, hh, day, month, yy = (int(f"{b:02X}") for b in data)
            self.clock_set_to = datetime(2000 + yy, month, day, hh, mm, ss)
        except ValueError:
            return  # not a valid clock: a real meter ignores it too

    def _other(self) -> ErrorKind:
        return ErrorKind.OTHER if self.edition is Edition.V2007 else ErrorKind.ILLEGAL_DATA

    def _reply(self, function: int, data: bytes) -> Frame:
        return Frame(self.address.wire, function | REPLY, data)

    def _abnormal(self, function: int, code: int) -> Frame:
        return Frame(self.address.wire, function | REPLY | ABNORMAL, bytes([code & 0xFF]))


def _encode(point: Dlt645Point, value: PointValue) -> bytes:
    fmt = point.data_format
    if fmt.kind == "digits":
        return bcd.encode(fmt, str(value))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bcd.BcdError(f"{value!r} is not a number")
    raw = value / point.scale if point.scale != 1.0 else value
    return bcd.encode(fmt, raw, point.signed)


def _parse_faults(faults: list[Fault | str] | None) -> list[Fault]:
    return [f if isinstance(f, Fault) else parse_fault(f) for f in faults or ()]
