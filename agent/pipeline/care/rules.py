"""What one closed interval does to a care rule: ``inactivity`` and ``continuous_flow``.

``alarming`` is what the evidence says the alarm should be; the engine raises or clears so that
upstream matches it. Evidence that clears (use, or flow that stopped) is taken at any hour; an alarm
is never *raised* inside quiet hours, but the time keeps counting and it is raised at the first
interval after them if the condition still holds.

- ``inactivity``: ``held_s`` counts seconds of intervals without flow that lie in the daily
  windows. Flow (at any hour) sets it to 0 and clears; so does a gap the counter rose across.
  Reaching ``hours`` raises.
- ``continuous_flow``: ``held_s`` counts seconds of back-to-back flowing intervals. An interval
  without flow sets it to 0 and clears; reaching ``hours`` raises.

An unknown interval (a gap, a replaced meter) sets ``held_s`` to 0 and neither raises nor clears:
after a gap the rule needs ``hours`` of fresh readings before it can raise again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.pipeline.care.counter import CounterTrack, Interval, Outcome
from agent.pipeline.care.localtime import LocalDays
from agent.rules import CareRule

INACTIVITY = "inactivity"
CONTINUOUS_FLOW = "continuous_flow"
KINDS = (INACTIVITY, CONTINUOUS_FLOW)


@dataclass(slots=True)
class RuleState:
    alarming: bool = False
    held_s: float = 0.0
    since: float | None = None  # inactivity: the last flow seen; continuous_flow: when the flow began
    track: CounterTrack = field(default_factory=CounterTrack)


def step(rule: CareRule, state: RuleState, interval: Interval, days: LocalDays) -> None:
    """Update ``state`` with one closed interval."""
    if rule.kind == INACTIVITY:
        _inactivity(rule, state, interval, days)
    else:
        _continuous_flow(rule, state, interval, days)


def _may_raise(rule: CareRule, state: RuleState, at: float, days: LocalDays) -> bool:
    return state.held_s >= rule.hours * 3600.0 and not (rule.quiet and days.inside(rule.quiet, at))


def _inactivity(rule: CareRule, state: RuleState, interval: Interval, days: LocalDays) -> None:
    if interval.outcome is Outcome.FLOW or interval.used:
        state.held_s, state.since, state.alarming = 0.0, interval.end, False
        return
    if interval.outcome is Outcome.UNKNOWN:
        state.held_s = 0.0
        return
    state.held_s += days.seconds_inside(rule.windows, interval.start, interval.end)
    if not state.alarming and _may_raise(rule, state, interval.end, days):
        state.alarming = True


def _continuous_flow(rule: CareRule, state: RuleState, interval: Interval, days: LocalDays) -> None:
    if interval.outcome is Outcome.NO_FLOW:
        state.held_s, state.since, state.alarming = 0.0, None, False
        return
    if interval.outcome is Outcome.UNKNOWN:
        state.held_s, state.since = 0.0, None
        return
    if state.since is None:
        state.since = interval.start
    state.held_s += interval.end - interval.start
    if not state.alarming and _may_raise(rule, state, interval.end, days):
        state.alarming = True
