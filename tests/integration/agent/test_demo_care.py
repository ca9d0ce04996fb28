"""`make demo` shows a care alarm live (issue 13): the demo itself runs (its simulator on a socat pty
pair, the real `edgepost run`, a real mosquitto with its stop and restart) and what its upstream view
decoded from the broker must hold the water meter's continuous_flow raise, in the alarm lane, and its
clear once the scripted tap closes."""

from __future__ import annotations

import io

from rich.console import Console

from tests.demo import Upstream, run


def care_transitions(up: Upstream) -> list[tuple[str, str, str, str]]:
    return [(str(r["dev"]), str(r["ev"]), str(r["data"]["alarm"]), str(r["pri"])) for r in up.care_records]


def test_the_demo_shows_the_water_meters_care_alarm_raised_and_cleared_upstream() -> None:
    output = io.StringIO()
    console = Console(file=output, width=200, force_terminal=False)
    # the tap closes 45 s after the meter's first read; 300 s is only a deadline for a loaded machine
    up = run(300, console, until=lambda u: len(u.care_records) >= 2)
    assert care_transitions(up) == [
        ("flat-0301", "alarm", "continuous_flow", "alarm"),
        ("flat-0301", "alarm_cleared", "continuous_flow", "alarm"),
    ], output.getvalue()[-3000:]
    raised = up.care_records[0]["data"]
    assert raised["severity"] == "critical" and raised["point"] == "positive_total" and raised["held_h"] >= 0.003
    shown = output.getvalue()
    assert "care alarms upstream:" in shown and "RAISED critical: water running without a break" in shown
    # the rest of the demo still runs: the other devices' values reach the broker too
    assert {dev for dev, _ in up.latest} >= {"meter", "weather", "manhole", "dimmer", "level", "flat-0301"}
