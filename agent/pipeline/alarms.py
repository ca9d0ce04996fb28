"""Threshold alarms with hysteresis: a crossing raises once, clearing needs the value back past the band."""

from __future__ import annotations

from agent.records import Event, Priority, Reading
from agent.rules import AlarmRule

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

    def __init__(self) -> None:
        self._rules: dict[tuple[str, str], tuple[AlarmRule, ...]] = {}
        self._active: set[tuple[str, str, str]] = set()

    def configure(self, device: str, point: str, rules: tuple[AlarmRule, ...]) -> None:
        if rules:
            self._rules[(device, point)] = rules
        else:
            self._rules.pop((device, point), None)

    @property
    def active(self) -> frozenset[tuple[str, str, str]]:
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
                    kind="alarm" if now else "alarm_cleared",
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
