"""Care rules over compressed days: a scripted water meter read every minute on a fake clock.

Times are the site's local time (Asia/Shanghai). Intervals are 15 minutes and start at the first
reading (00:00), so they close on the quarter hours.
"""

from __future__ import annotations

from agent.pipeline.care.engine import CareEngine
from agent.pipeline.care.rules import CONTINUOUS_FLOW, INACTIVITY
from agent.records import Priority, Quality
from tests.unit.pipeline.care_days import DEVICE, POINT, Replay, meter, offline, rule

NORMAL_DAY = (("07:30", "07:40", 6.0), ("10:00", "10:05", 4.0), ("12:30", "12:40", 8.0),
              ("15:00", "15:02", 5.0), ("18:00", "18:20", 7.0), ("21:00", "21:03", 5.0))


def two_days(*uses: tuple[str, str, float]) -> tuple[tuple[str, str, float], ...]:
    """The same uses on day 0 and day 1."""
    def later(hhmm: str) -> str:
        h, m = hhmm.split(":")
        return f"{int(h) + 24}:{m}"

    return uses + tuple((later(a), later(b), lpm) for a, b, lpm in uses)


def welfare(hours: float = 6.0, **kw: object) -> CareEngine:
    engine = CareEngine()
    engine.configure([rule(INACTIVITY, hours, window=("07:00", "22:00"), **kw)])  # type: ignore[arg-type]
    return engine


def leak(hours: float = 2.0, **kw: object) -> CareEngine:
    engine = CareEngine()
    engine.configure([rule(CONTINUOUS_FLOW, hours, **kw)])  # type: ignore[arg-type]
    return engine


def test_a_normal_day_raises_nothing_by_day_or_by_night() -> None:
    engine = CareEngine()
    engine.configure([rule(INACTIVITY, 6, window=("07:00", "22:00")), rule(CONTINUOUS_FLOW, 1)])
    day = Replay(engine, meter(*two_days(*NORMAL_DAY)))
    day.run("00:00", "48:00")  # 9 quiet night hours each night are outside the window
    assert day.timeline() == []
    assert engine.active == frozenset()


def test_no_use_all_day_raises_inactivity_after_the_window_hours_in_the_alarm_lane() -> None:
    day = Replay(welfare(6), meter(("06:00", "06:10", 5.0)))  # used before the window opened, then nothing
    day.run("00:00", "23:59")
    assert day.timeline() == [("alarm", INACTIVITY, "d0 13:00")]  # 07:00 + 6 h of window time
    event = day.events[0]
    assert event.priority is Priority.ALARM and event.device == DEVICE
    assert event.data["point"] == POINT and event.data["rule"] == "care" and event.data["hours"] == 6
    assert event.data["held_h"] == 6.0
    assert event.data["since"] is not None and event.data["value"] == day.counter.at(13 * 3600)


def test_use_that_resumes_clears_the_inactivity_alarm_in_the_alarm_lane_at_any_hour() -> None:
    day = Replay(welfare(6), meter(("23:10", "23:12", 6.0)))  # a late glass of water, outside the window
    day.run("00:00", "23:59")
    assert day.timeline() == [("alarm", INACTIVITY, "d0 13:00"), ("alarm_cleared", INACTIVITY, "d0 23:15")]
    assert day.events[1].priority is Priority.ALARM


def test_the_night_does_not_count_and_the_window_carries_over_to_the_next_morning() -> None:
    # used at 20:00 (the interval that saw it closes 20:15): 1 h 45 window time that evening,
    # then 4 h 15 more from 07:00 the next day
    day = Replay(welfare(6), meter(("20:00", "20:05", 5.0)))
    day.run("00:00", "36:00")
    assert day.timeline() == [("alarm", INACTIVITY, "d0 13:00"), ("alarm_cleared", INACTIVITY, "d0 20:15"),
                              ("alarm", INACTIVITY, "d1 11:15")]


def test_a_tap_left_open_raises_continuous_flow_and_closing_it_clears() -> None:
    day = Replay(leak(2), meter(("10:00", "13:00", 3.0)))
    day.run("00:00", "23:59")
    assert day.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 12:00"), ("alarm_cleared", CONTINUOUS_FLOW, "d0 13:15")]
    assert [e.priority for e in day.events] == [Priority.ALARM, Priority.ALARM]
    assert day.events[0].data["since"] is not None


def test_an_interval_without_flow_breaks_the_run() -> None:
    # 30 minutes on, 30 off, again and again: never 2 hours of flow in every interval
    uses = [(f"{h:02d}:00", f"{h:02d}:30", 3.0) for h in range(8, 20)]
    day = Replay(leak(2), meter(*uses))
    day.run("00:00", "23:59")
    assert day.timeline() == []


def test_quiet_hours_defer_the_raise_to_their_end_and_let_the_clear_through() -> None:
    # the tap is left open at 23:00; nobody is woken between 00:00 and 06:00
    night = Replay(leak(2, quiet=("00:00", "06:00")), meter(("23:00", "31:00", 3.0)))
    night.run("00:00", "32:00")
    assert night.timeline() == [("alarm", CONTINUOUS_FLOW, "d1 06:00"), ("alarm_cleared", CONTINUOUS_FLOW, "d1 07:15")]
    # an inactivity alarm due at 13:00 during a 12:00-14:00 nap is raised at 14:00
    nap = Replay(welfare(6, quiet=("12:00", "14:00")), meter())
    nap.run("00:00", "15:00")
    assert nap.timeline() == [("alarm", INACTIVITY, "d0 14:00")]
    # a clear inside quiet hours goes out at once
    late = Replay(welfare(6, quiet=("22:00", "07:00")), meter(("23:00", "23:05", 5.0)))
    late.run("00:00", "23:59")
    assert late.timeline() == [("alarm", INACTIVITY, "d0 13:00"), ("alarm_cleared", INACTIVITY, "d0 23:15")]


def test_min_flow_keeps_a_drip_from_counting_as_use_and_a_leak_from_hiding() -> None:
    drip = meter(("00:00", "48:00", 0.02))  # 1.2 litres an hour from a worn washer
    # without a minimum, the drip looks like someone using water all day
    plain = Replay(welfare(6), drip)
    plain.run("00:00", "23:59")
    assert plain.timeline() == []
    # with 5 L/h as the minimum the drip is no use: the welfare alarm comes
    strict = Replay(welfare(6, min_flow_lph=5.0), drip)
    strict.run("00:00", "23:59")
    assert strict.timeline() == [("alarm", INACTIVITY, "d0 13:00")]
    # and it is no flow either, for continuous_flow
    quiet_leak = Replay(leak(2, min_flow_lph=5.0), drip)
    quiet_leak.run("00:00", "23:59")
    assert quiet_leak.timeline() == []
    # a running toilet at 20 L/h is above it: continuous flow
    toilet = Replay(leak(2, min_flow_lph=5.0), meter(("00:00", "48:00", 20 / 60)))
    toilet.run("00:00", "03:00")
    assert toilet.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 02:00")]


def test_a_counter_that_wraps_keeps_counting_flow() -> None:
    # a 4-digit dial: 9999.0 m³ + 10 L/min reaches 10000 at 01:40 and shows 0.xx after it
    dial = meter(("00:00", "03:00", 10.0), start=9999.0, wrap=10000.0)
    wrapped = Replay(leak(2, wrap=10000.0), dial)
    wrapped.run("00:00", "04:00")
    assert wrapped.timeline() == [
        ("alarm", CONTINUOUS_FLOW, "d0 02:00"), ("alarm_cleared", CONTINUOUS_FLOW, "d0 03:15")
    ]
    # without ``wrap`` the drop reads as a new meter: no alarm from the drop, the run starts again
    unknown = Replay(leak(2), dial)
    unknown.run("00:00", "04:00")
    assert unknown.timeline() == []


def test_a_replaced_meter_drop_neither_raises_nor_clears() -> None:
    # a leak all day; the meter is swapped at 14:00 for one reading 0.5 m³ and the leak goes on until 16:00
    swap = meter(("00:00", "16:00", 2.0), start=850.0, swaps=[("14:00", 0.5)])
    day = Replay(leak(3), swap)
    day.run("00:00", "23:59")
    # the 14:01 reading shows the drop: intervals start again there, so the clear comes at 16:16
    assert day.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 03:00"), ("alarm_cleared", CONTINUOUS_FLOW, "d0 16:16")]
    # an inactive home whose meter is swapped at 10:00: the swap is no use, but what went before is unknown
    home = Replay(welfare(6), meter(start=850.0, swaps=[("10:00", 0.5)]))
    home.run("00:00", "23:59")
    assert home.timeline() == [("alarm", INACTIVITY, "d0 16:01")]


def test_a_device_offline_is_unknown_not_no_use() -> None:
    # offline 10:00-12:00 with no readings at all, or with stale ones: the 6 h start again after it
    for how in (None, Quality.STALE, Quality.BAD):
        day = Replay(welfare(6), meter())
        day.run("00:00", "23:59", quality=offline("10:00", "12:00", how))
        assert day.timeline() == [("alarm", INACTIVITY, "d0 18:00")], how
    # a gap shorter than an interval is no gap (the interval due at 10:00 closes with the 10:10 reading)
    blip = Replay(welfare(6), meter())
    blip.run("00:00", "23:59", quality=offline("10:00", "10:10"))
    assert blip.timeline() == [("alarm", INACTIVITY, "d0 13:10")]


def test_a_counter_that_rose_while_the_device_was_offline_clears_inactivity() -> None:
    day = Replay(welfare(6), meter(("16:00", "16:10", 8.0)))
    day.run("00:00", "23:59", quality=offline("15:30", "17:00"))
    assert day.timeline() == [("alarm", INACTIVITY, "d0 13:00"), ("alarm_cleared", INACTIVITY, "d0 17:00")]
    # a rise across the gap below the minimum flow (on average) proves nothing: the alarm stays
    slow = Replay(welfare(6, min_flow_lph=60.0), meter(("16:00", "16:05", 8.0)))
    slow.run("00:00", "23:59", quality=offline("15:30", "20:00"))
    assert slow.timeline() == [("alarm", INACTIVITY, "d0 13:00")]


def test_a_device_offline_neither_raises_nor_clears_continuous_flow() -> None:
    day = Replay(leak(2), meter(("08:00", "14:00", 3.0)))
    day.run("00:00", "23:59", quality=offline("11:00", "12:00"))
    # raised at 10:00; the gap leaves it raised; it clears when the flow is seen to stop
    assert day.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 10:00"), ("alarm_cleared", CONTINUOUS_FLOW, "d0 14:15")]
    # a gap before the threshold starts the run again: 2 h of flow after it
    late = Replay(leak(2), meter(("08:00", "14:00", 3.0)))
    late.run("00:00", "23:59", quality=offline("09:00", "10:00"))
    assert late.timeline() == [("alarm", CONTINUOUS_FLOW, "d0 12:00"), ("alarm_cleared", CONTINUOUS_FLOW, "d0 14:15")]
