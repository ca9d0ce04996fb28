"""Threshold alarms with hysteresis: a crossing raises once, clearing needs the value back past the band.

The evaluator starts from the alarms that were active when the agent stopped (``alarm_state.py``
keeps them on disk), so after a restart a value back to normal clears its alarm upstream and a value
still beyond the threshold raises nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.records import Event, Priority, Reading
from agent.rules import AlarmRule, PointRule

AlarmKey = tuple[str, str, str]  # (device, point, alarm name)
RAISED = "alarm"
CLEARED = "alarm_cleared"

_EVENT_PRIORITY = {
    "critical": Priority.ALARM,
    "high": Priority.ALARM,
    "medium": Priority.EVENT,
    "low": Priority.EVENT,
}


def _raised(rule: AlarmRule, value: float, active: bool) -> bool:
    """New alarm state for ``value`` given the current one."""
    if rule.above is not None:
        if not active and value > rule.above:
            return True
        if active and value > rule.above - rule.hysteresis:
            return True
    if rule.below is not None:
        if not active and value < rule.below:
            return True
        if active and value < rule.below + rule.hysteresis:
            return True
    return False


class AlarmEvaluator:
    """Tracks the state of every (device, point, alarm) and turns transitions into events."""

    def __init__(self, active: Iterable[AlarmKey] = ()) -> None:
        self._rules: dict[tuple[str, str], tuple[AlarmRule, ...]] = {}
        self._active: set[AlarmKey] = set(active)

    def configure_devices(self, devices: Iterable[str], rules: Iterable[PointRule]) -> list[Event]:
        """Set every rule of ``devices`` at once (a driver that opened). An active alarm of theirs whose
        rule or point is no longer configured is cleared: upstream must not keep it."""
        names = set(devices)
        wanted = {(r.device, r.point): r.alarms for r in rules}
        names |= {device for device, _ in wanted}
        for key in [k for k in self._rules if k[0] in names and k not in wanted]:
            del self._rules[key]
        for key, alarms in wanted.items():
            if alarms:
                self._rules[key] = alarms
            else:
                self._rules.pop(key, None)
        stale = [
            k for k in self._active
            if k[0] in names and k[2] not in {a.name for a in self._rules.get((k[0], k[1]), ())}
        ]
        return self._clear(sorted(stale), "rule_removed")

    def configure(self, device: str, point: str, rules: tuple[AlarmRule, ...]) -> list[Event]:
        """Set a point's rules. An active alarm whose rule is gone is cleared (the cloud must not keep it)."""
        names = {rule.name for rule in rules}
        stale = [key for key in self._active if key[:2] == (device, point) and key[2] not in names]
        if rules:
            self._rules[(device, point)] = rules
        else:
            self._rules.pop((device, point), None)
        return self._clear(stale, "rule_removed")

    def forget(self, device: str) -> list[Event]:
        """Drop a device that is no longer configured; its active alarms are cleared."""
        for key in [k for k in self._rules if k[0] == device]:
            del self._rules[key]
        return self._clear(sorted(k for k in self._active if k[0] == device), "device_removed")

    def _clear(self, keys: list[AlarmKey], reason: str) -> list[Event]:
        events = []
        for device, point, name in keys:
            self._active.discard((device, point, name))
            events.append(
                Event(device=device, kind=CLEARED, data={"alarm": name, "point": point, "reason": reason})
            )
        return events

    @property
    def active(self) -> frozenset[AlarmKey]:
        return frozenset(self._active)

    def evaluate(self, reading: Reading) -> list[Event]:
        rules = self._rules.get((reading.device, reading.point))
        value = reading.value
        if not rules or isinstance(value, bool) or not isinstance(value, int | float):
            return []
        events: list[Event] = []
        for rule in rules:
            compared = abs(value) if rule.absolute else float(value)
            key = (reading.device, reading.point, rule.name)
            was = key in self._active
            now = _raised(rule, compared, was)
            if now == was:
                continue
            if now:
                self._active.add(key)
            else:
                self._active.discard(key)
            events.append(
                Event(
                    device=reading.device,
                    kind=RAISED if now else CLEARED,
                    ts=reading.ts,
                    priority=_EVENT_PRIORITY.get(rule.priority, Priority.ALARM) if now else Priority.EVENT,
                    data={
                        "alarm": rule.name,
                        "point": reading.point,
                        "value": value,
                        "above": rule.above,
                        "below": rule.below,
                        "hysteresis": rule.hysteresis,
                        "severity": rule.priority,
                        "message": rule.message,
                    },
                )
            )
        return events
