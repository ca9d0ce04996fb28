"""A simulated device that tells the truth recorder every value it puts on the wire."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pymodbus.pdu import ExceptionResponse, ModbusPDU

from drivers.modbus.profile import Profile, Table
from drivers.modbus.simulator.device import GeneratorLike, SimulatedDevice
from rig.observe.truth import Truth

_READ_TABLE = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}


class RecordingDevice(SimulatedDevice):
    """Records ``(label, point, time, decoded value)`` for every point a successful read fully covers."""

    def __init__(
        self, label: str, truth: Truth, unit: int, profile: Profile,
        generators: Mapping[str, GeneratorLike] | None = None, **options: Any,
    ) -> None:
        super().__init__(unit, profile, generators, **options)
        self.label = label
        self._truth = truth
        self._spans: dict[Table, list[tuple[int, int, str]]] = {t: [] for t in Table}
        for name, point in profile.points.items():
            width = 1 if point.table.is_bit else point.register_count
            self._spans[point.table].append((point.address, point.address + width, name))

    def handle(self, request: ModbusPDU) -> ModbusPDU:
        response = super().handle(request)
        table = _READ_TABLE.get(request.function_code)
        if table is None or isinstance(response, ExceptionResponse):
            return response
        lo, hi = request.address, request.address + request.count
        now = time.time()
        for start, end, name in self._spans[table]:
            if lo <= start and end <= hi:
                self._truth.record(self.label, name, now, self.value_of(name))
        return response
