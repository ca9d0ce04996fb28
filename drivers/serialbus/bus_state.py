"""A bus's link change as the driver reports it: a ``bus_state`` event, and a recovery's resume.

Any protocol's buses (and Modbus TCP connections) are kept open by ``LinkKeeper``; each change
is one event (an alarm when the link went down). When it comes back, the devices on that bus are
polled at once instead of when their outage back-off ends; the first open is no recovery, so the
pollers keep their stagger.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from agent.records import Event, JsonValue, Priority
from drivers.base import RecordSink
from drivers.serialbus.link import LinkChange


class ResumablePoller(Protocol):
    @property
    def bus(self) -> object: ...

    def resume(self) -> None: ...


def bus_state_event(change: LinkChange) -> Event:
    data: dict[str, JsonValue] = {"state": str(change.state), "previous": str(change.previous), "port": change.port}
    if change.reason:
        data["reason"] = change.reason
    priority = Priority.ALARM if change.state.down else Priority.EVENT
    return Event(device=change.bus, kind="bus_state", ts=time.time(), priority=priority, data=data)


async def report_bus_change(
    change: LinkChange, sink: RecordSink, bus: object | None, pollers: Iterable[ResumablePoller]
) -> None:
    """Put the change's event in ``sink``; on a recovery, resume the pollers of ``bus``."""
    await sink.put(bus_state_event(change))
    if change.state.down or not change.previous.down:
        return
    for poller in pollers:
        if poller.bus is bus:
            poller.resume()
