"""A DL/T 645 bus: the DL/T 645 master on its port's shared RS-485 line (``drivers.serialbus``).

Every request waits for the line's turn, so Modbus devices on the same port (configured in another
driver section) share one queue with the meters. A read that timed out or came back damaged is
sent again up to ``retries`` times within the same turn (a retry never jumps the queue); a write
(relay control) is sent once: without its reply it ends as ``WriteOutcomeUnknown``. A broadcast
(time sync) expects no reply and holds the line for the meters to act on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agent.errors import DeviceException, DeviceTimeout, FramingError, TransportError, WriteOutcomeUnknown
from agent.records import JsonValue
from drivers.dlt645.config import Dlt645Bus
from drivers.dlt645.master import LineMaster
from drivers.dlt645.transaction import LineTransaction
from drivers.serialbus.line import LineSettings, SharedLine
from drivers.serialbus.lines import acquire_line
from drivers.serialbus.link import OnChange

T = TypeVar("T")


@dataclass
class BusStats:
    requests: int = 0
    timeouts: int = 0
    abnormal: int = 0
    errors: int = 0
    busy_s: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def as_json(self, now: float) -> dict[str, JsonValue]:
        elapsed = max(now - self.started, 1e-9)
        return {
            "requests": self.requests, "timeouts": self.timeouts, "abnormal": self.abnormal, "errors": self.errors,
            "utilisation": round(min(self.busy_s / elapsed, 1.0), 4),
        }


class MeterBus:
    def __init__(self, config: Dlt645Bus, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.name = config.name
        settings = LineSettings(config.port, config.baudrate, config.bytesize, config.parity, config.stopbits)
        self.line: SharedLine | None = acquire_line(config.name, settings, config.reopen_min_s, config.reopen_max_s)
        self.master = LineMaster(
            config.name, self.line.link, config.bits_per_char / config.baudrate,
            late_reply_s=config.late_reply_s, gap_s=config.gap_ms / 1000.0,
        )
        self.line.attach(self.master)
        self.stats = BusStats(started=clock())
        self._clock = clock

    def _line(self) -> SharedLine:
        if self.line is None:
            raise TransportError(f"{self.name}: the bus is closed")
        return self.line

    async def open(self) -> None:
        await self._line().open()

    def close(self) -> None:
        """Give the line back (the last bus on it closes the port); safe to call twice."""
        line, self.line = self.line, None
        if line is not None:
            line.report_load(self, None)
            line.detach(self.master)
            line.release()

    async def keep_open(self, on_change: OnChange) -> None:
        await self._line().keep(self.name, on_change)

    def retry_now(self) -> None:
        if self.line is not None:
            self.line.keeper.retry_now()

    async def read(self, tx: LineTransaction[Any, T], retries: int | None = None) -> T:
        """Send ``tx`` and return its answer, again after a timeout or a damaged reply."""
        retries = self.config.retries if retries is None else retries
        async with self._line().turn(self.master):
            attempt = 0
            while True:
                try:
                    return await self._once(tx)
                except (DeviceTimeout, FramingError):
                    if attempt >= retries:
                        raise
                attempt += 1

    async def write(self, tx: LineTransaction[Any, T]) -> T:
        """Send ``tx`` once: a write whose reply did not come may have been applied."""
        async with self._line().turn(self.master):
            try:
                return await self._once(tx)
            except (DeviceTimeout, FramingError) as exc:
                raise WriteOutcomeUnknown(exc.device, str(exc).removeprefix(f"{exc.device}: ")) from exc

    async def broadcast(self, tx: LineTransaction[Any, Any]) -> None:
        async with self._line().turn(self.master):
            started = self._clock()
            self.stats.requests += 1
            try:
                await self.master.broadcast(tx)
            finally:
                self.stats.busy_s += self._clock() - started

    async def _once(self, tx: LineTransaction[Any, T]) -> T:
        started = self._clock()
        self.stats.requests += 1
        try:
            return await self.master.request(tx)
        except DeviceTimeout:
            self.stats.timeouts += 1
            raise
        except DeviceException:
            self.stats.abnormal += 1
            raise
        except (FramingError, TransportError):
            self.stats.errors += 1
            raise
        finally:
            self.stats.busy_s += self._clock() - started

    def status(self) -> dict[str, JsonValue]:
        line = self.line
        out: dict[str, JsonValue] = dict(line.keeper.status()) if line is not None else {"state": "closed"}
        out.update(self.stats.as_json(self._clock()))
        counters = self.master.counters
        totals: dict[str, JsonValue] = {"noise_bytes": counters.noise_bytes}
        for sender in counters.senders.values():
            for key, value in sender.as_json().items():
                previous = totals.get(key, 0)
                assert isinstance(previous, int) and isinstance(value, int)
                totals[key] = previous + value
        out["line"] = totals
        if line is not None and line.holders > 1:
            out["shared_line"] = line.status()
        return out
