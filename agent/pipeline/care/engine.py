"""The care rules of every counter point: readings in, raise/clear events out.

The engine is driven by the readings' own timestamps, never by the wall clock, so a test replays a
whole day of readings in milliseconds and a restart resumes where the saved state left off.

Upstream always ends up matching the evidence: after each reading the alarm is raised or cleared
when the rule's ``alarming`` (what the readings say) differs from ``active`` (what was sent). The
engine starts from the care alarms the alarm journal saw committed and from the state saved in the
state dir (``state.py``); if a crash lost a raise or a clear on the way, the next reading sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from agent.logs import RateLimiter, log_event, log_limited
from agent.pipeline.alarms import CLEARED, RAISED, AlarmKey
from agent.pipeline.care.counter import Interval, Outcome
from agent.pipeline.care.localtime import LocalDays
from agent.pipeline.care.rules import RuleState, step
from agent.records import Event, JsonValue, Priority, Quality, Reading
from agent.rules import CareRule

log = logging.getLogger(__name__)

CARE = "care"  # ``data.rule`` of every care alarm event: tells its journal entries from threshold alarms'


class CareEngine:
    def __init__(self, active: Iterable[AlarmKey] = (), saved: Mapping[AlarmKey, RuleState] | None = None) -> None:
        self._active: set[AlarmKey] = set(active)
        self._states: dict[AlarmKey, RuleState] = dict(saved or {})
        self._rules: dict[AlarmKey, CareRule] = {}
        self._by_point: dict[tuple[str, str], list[CareRule]] = {}
        self._days: dict[str, LocalDays] = {}
        self._limiter = RateLimiter()
        self.changed = False  # the state moved since the last ``mark_saved``

    @property
    def active(self) -> frozenset[AlarmKey]:
        return frozenset(self._active)

    @property
    def rules(self) -> list[CareRule]:
        return list(self._rules.values())

    def states(self) -> dict[AlarmKey, RuleState]:
        return self._states

    def mark_saved(self) -> None:
        self.changed = False

    def configure(self, rules: Iterable[CareRule]) -> list[Event]:
        """Set every care rule at once. An active alarm whose rule is gone is cleared upstream; the
        state of a rule that stays (its parameters may change) is kept."""
        self._rules = {(r.device, r.point, r.kind): r for r in rules}
        self._by_point = {}
        for rule in self._rules.values():
            self._by_point.setdefault((rule.device, rule.point), []).append(rule)
            self._days.setdefault(rule.timezone, LocalDays(rule.timezone))
        return self._drop(lambda key: key not in self._rules, "rule_removed")

    def forget(self, device: str) -> list[Event]:
        """A device gone from the config: its rule state goes and its active alarms are cleared."""
        return self._drop(lambda key: key[0] == device, "device_removed")

    def _drop(self, gone: Callable[[AlarmKey], bool], reason: str) -> list[Event]:
        """Forget the rules ``gone`` picks and clear their alarms: those upstream has, and those whose saved
        state says raised (the agent may have died after the raise left but before the journal saved it)."""
        raised = {k for k in self._active if gone(k)}
        for key in [k for k in self._states if gone(k)]:
            if self._states.pop(key).alarming:
                raised.add(key)
            self.changed = True
        return self._clear(sorted(raised), reason)

    def _clear(self, keys: list[AlarmKey], reason: str) -> list[Event]:
        events = []
        for device, point, kind in keys:
            self._active.discard((device, point, kind))
            events.append(Event(device=device, kind=CLEARED, priority=Priority.ALARM,
                                data={"alarm": kind, "point": point, "rule": CARE, "reason": reason}))
        return events

    def observe(self, reading: Reading) -> list[Event]:
        rules = self._by_point.get((reading.device, reading.point))
        value = reading.value
        if not rules or reading.quality is not Quality.GOOD:
            return []  # stale or bad: neither use nor non-use; the next good reading measures the gap
        if isinstance(value, bool) or not isinstance(value, int | float):
            return []
        events: list[Event] = []
        for rule in rules:
            key = (rule.device, rule.point, rule.kind)
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = RuleState(alarming=key in self._active)
            interval = state.track.feed(reading.ts, float(value), rule.interval_s, rule.min_flow_per_h, rule.wrap)
            self.changed = True
            if interval is not None:
                self._note(rule, interval)
                step(rule, state, interval, self._days[rule.timezone])
            if state.alarming != (key in self._active):
                events.append(self._transition(rule, state, reading))
        return events

    def _note(self, rule: CareRule, interval: Interval) -> None:
        if interval.outcome is not Outcome.UNKNOWN:
            return
        event = "care_counter_reset" if interval.reason == "counter_reset" else "care_state_unknown"
        log_limited(self._limiter, log, f"{event}:{rule.device}.{rule.point}.{rule.kind}", event, logging.INFO,
                    device=rule.device, point=rule.point, rule=rule.kind, reason=interval.reason,
                    from_ts=interval.start, to_ts=interval.end)

    def _transition(self, rule: CareRule, state: RuleState, reading: Reading) -> Event:
        key = (rule.device, rule.point, rule.kind)
        data: dict[str, JsonValue] = {"alarm": rule.kind, "point": rule.point, "rule": CARE, "value": reading.value}
        if state.alarming:
            self._active.add(key)
            data |= {
                "hours": rule.hours,
                "held_h": round(state.held_s / 3600.0, 4),
                "since": state.since,
                "severity": rule.severity,
                "message": rule.message,
            }
        else:
            self._active.discard(key)
        log_event(log, "care_alarm" if state.alarming else "care_alarm_cleared", logging.WARNING,
                  device=rule.device, point=rule.point, rule=rule.kind)
        return Event(device=rule.device, kind=RAISED if state.alarming else CLEARED, ts=reading.ts,
                     priority=Priority.ALARM, data=data)
