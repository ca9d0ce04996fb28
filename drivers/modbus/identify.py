"""Name the device behind a unit id: read each profile's identification registers (and FC43).

``identify`` scores every profile that declares identification: the share of its expected values
the device gave back (1.00: every one matched). A profile that declares no expected values scores at
most 0.50: half the share of its sampled points that answer, since any device with registers there
would. ``ProfileMatch.basis`` says which, in words. ``scan`` (``edgepost scan``, no daemon) sweeps
serial settings x unit ids with a short timeout and identifies whatever answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from agent.errors import DeviceError, DeviceException, DeviceTimeout, TransportError
from agent.records import PointValue
from drivers.modbus.bus import BusQueue, build_bus_queue
from drivers.modbus.codec import CodecError, decode_point
from drivers.modbus.config import SerialBus
from drivers.modbus.profile import DataType, IdentRegister, Point, Profile, Table
from drivers.modbus.profile_firmware import in_range
from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.transport import PortMissing, ReadDeviceId, ReadRequest

# FC43 object ids: basic (read code 1) and regular (read code 2) categories
_OBJECTS = {"vendor_name": 0, "product_code": 1, "model_name": 5}


@dataclass(frozen=True, slots=True)
class ProfileMatch:
    profile: str
    score: float  # matched / checked expectations, 0..1
    matched: int
    checked: int
    firmware: str | None = None
    firmware_in_range: bool | None = None

    @property
    def basis(self) -> str:
        """What the score stands for, in words (``edgepost scan``/``probe`` print it)."""
        return score_basis(self.score, self.matched, self.checked)


def score_basis(score: float, matched: int, checked: int) -> str:
    """``3 of 3 identification values match``, or why a score of at most 0.50 is weak evidence."""
    if checked:
        sure = " (a sure match)" if matched == checked else ""
        return f"{matched} of {checked} identification value(s) match{sure}"
    # no values to compare: 0.5 x the share of sampled points that answered (see _score)
    share = round(score * 2 * 100)
    return (
        f"weak: the profile declares no values to compare; its identification registers and {share}% "
        "of its sampled points answer, as another model's could"
    )


class _Reader:
    """Reads each identification register once per unit, whatever number of profiles ask for it."""

    def __init__(self, bus: BusQueue, unit: int) -> None:
        self.bus = bus
        self.unit = unit
        self.answered = False
        self._words: dict[tuple[Table, int, int], list[int] | None] = {}
        self._objects: dict[int, dict[int, bytes] | None] = {}

    async def words(self, table: Table, address: int, count: int) -> list[int] | None:
        key = (table, address, count)
        if key not in self._words:
            try:
                response = await self.bus.execute(ReadRequest(self.unit, table, address, count), retries=0)
                self._words[key] = response.values
                self.answered = True
            except DeviceException:
                self._words[key] = None
                self.answered = True
        return self._words[key]

    def readable(self, table: Table, address: int) -> bool:
        return any(k[0] is table and k[1] == address and v is not None for k, v in self._words.items())

    async def objects(self, read_code: int) -> dict[int, bytes] | None:
        if read_code not in self._objects:
            try:
                response = await self.bus.execute(ReadDeviceId(self.unit, read_code=read_code), retries=0)
                self._objects[read_code] = response.objects
                self.answered = True
            except DeviceException:
                self._objects[read_code] = None
                self.answered = True
        return self._objects[read_code]


def _as_point(reg: IdentRegister) -> Point:
    return Point(
        table=reg.table,
        address=reg.address,
        type=reg.type,
        length=reg.length,
        byte_order=reg.byte_order,
        word_order=reg.word_order,
    )


def _firmware_text(value: PointValue, reg: IdentRegister) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if reg.type is DataType.FLOAT32 or isinstance(value, float):
        return f"{value:g}"
    # numeric firmware registers usually hold major*100 + minor (210 -> "2.10")
    return f"{int(value) // 100}.{int(value) % 100:02d}"


def _matches(value: PointValue, expect: int | float | str | list[int | float | str]) -> bool:
    options = expect if isinstance(expect, list) else [expect]
    for option in options:
        if isinstance(option, str) and isinstance(value, str):
            if option.strip().lower() == value.strip().lower():
                return True
        elif not isinstance(option, str) and isinstance(value, int | float) and float(value) == float(option):
            return True
    return False


async def _score(reader: _Reader, profile: Profile) -> ProfileMatch | None:
    ident = profile.identification
    checked = matched = 0
    firmware: str | None = None
    for reg in ident.registers:
        point = _as_point(reg)
        words = await reader.words(reg.table, reg.address, 1 if reg.table.is_bit else point.register_count)
        value: PointValue = None
        if words is not None:
            try:
                value = decode_point(point, words)
            except CodecError:
                value = None
        if reg.firmware:
            firmware = _firmware_text(value, reg)
        if reg.expect is not None:
            checked += 1
            matched += value is not None and _matches(value, reg.expect)
    wanted = ident.device_id
    if wanted is not None:
        for field_name, object_id in _OBJECTS.items():
            expected = getattr(wanted, field_name)
            if expected is None:
                continue
            checked += 1
            objects = await reader.objects(1 if object_id < 3 else 2) or {}
            got = objects.get(object_id, b"").decode("latin-1", errors="replace")
            matched += expected.lower() in got.lower()
    if checked == 0:
        # no expected values declared: that the identification registers answer is weak evidence
        answered = sum(1 for r in ident.registers if reader.readable(r.table, r.address))
        if not ident.registers or answered < len(ident.registers):
            return None
        # ...made stronger when the profile's own points answer too (another model's map does not)
        share = await _points_answering(reader, profile)
        if share == 0:
            return None
        return ProfileMatch(profile.id, 0.5 * share, 0, 0, firmware, _fits(profile, firmware))
    return ProfileMatch(profile.id, matched / checked, matched, checked, firmware, _fits(profile, firmware))


async def _points_answering(reader: _Reader, profile: Profile, samples: int = 4) -> float:
    """Share of a few of the profile's readable points (spread over its map) the device answers."""
    points = sorted((p for p in profile.points.values() if p.access.readable), key=lambda p: (str(p.table), p.address))
    if not points:
        return 1.0
    step = max(1, len(points) // samples)
    chosen = points[::step][:samples]
    answered = 0
    for point in chosen:
        count = 1 if point.table.is_bit else point.register_count
        answered += await reader.words(point.table, point.address, count) is not None
    return answered / len(chosen)


def _fits(profile: Profile, firmware: str | None) -> bool | None:
    if firmware is None:
        return None
    try:
        return in_range(profile.firmware, firmware)
    except ValueError:
        return None


async def identify(bus_client: BusQueue, unit: int, registry: ProfileRegistry) -> list[ProfileMatch]:
    """Matching profiles, best first (full matches whose firmware range fits the device lead).

    Raises ``DeviceTimeout`` when nothing at all answered at ``unit``.
    """
    reader = _Reader(bus_client, unit)
    matches: list[ProfileMatch] = []
    for profile in registry.all():
        try:
            match = await _score(reader, profile)
        except DeviceTimeout:
            if not reader.answered:
                raise
            continue
        if match is not None and match.score > 0:
            matches.append(match)
    if not reader.answered:
        # no profile asked anything this unit answered: probe, so silence still raises DeviceTimeout
        await reader.words(Table.HOLDING, 0, 1)
    matches.sort(key=lambda m: (m.score, m.firmware_in_range is True, m.matched), reverse=True)
    return matches


@dataclass(frozen=True)
class ScanHit:
    baudrate: int
    parity: str
    unit: int
    matches: list[ProfileMatch] = field(default_factory=list)

    @property
    def best(self) -> ProfileMatch | None:
        return self.matches[0] if self.matches else None


ScanProgress = Callable[[int, str, int, ScanHit | None], None]
ScanSkipped = Callable[[int, str, str], None]  # baud, parity, why the port refused that setting


async def scan(
    port: str,
    unit_ids: Iterable[int],
    bauds: Sequence[int],
    parities: Sequence[str],
    progress_cb: ScanProgress | None = None,
    registry: ProfileRegistry | None = None,
    timeout_s: float = 0.2,
    stopbits: int = 1,
    skipped_cb: ScanSkipped | None = None,
) -> list[ScanHit]:
    """Sweep ``bauds`` x ``parities`` x ``unit_ids`` on a serial ``port``; one hit per answering unit.

    A setting the port refuses (a pty has no parity, an adapter no 921600 baud) is skipped with a
    call to ``skipped_cb`` and the sweep goes on: what was found so far is never lost to it. A port
    that is missing altogether ends the scan (``PortMissing``).
    """
    if registry is None:
        registry = await asyncio.to_thread(ProfileRegistry.load)
    units = list(unit_ids)
    hits: list[ScanHit] = []
    for baud in bauds:
        for parity in parities:
            config = SerialBus.model_validate(
                {
                    "transport": "serial",
                    "name": "scan",
                    "port": port,
                    "baudrate": baud,
                    "parity": parity,
                    "stopbits": stopbits,
                    "timeout_s": timeout_s,
                    "retries": 0,
                }
            )
            bus = build_bus_queue(config, sweep=True)
            try:
                try:
                    await bus.open()
                except PortMissing:
                    raise
                except TransportError as exc:
                    if skipped_cb is not None:
                        skipped_cb(baud, parity, str(exc))
                    continue
                for unit in units:
                    hit: ScanHit | None = None
                    try:
                        hit = ScanHit(baud, parity, unit, await identify(bus, unit, registry))
                    except DeviceError:  # silence, or garbage at the wrong baud rate
                        hit = None
                    if hit is not None:
                        hits.append(hit)
                    if progress_cb is not None:
                        progress_cb(baud, parity, unit, hit)
            finally:
                await bus.close()
    return hits
