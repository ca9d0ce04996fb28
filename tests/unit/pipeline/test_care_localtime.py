"""Daily windows and quiet hours are the site's wall-clock times, on DST change days too."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.pipeline.care.engine import CareEngine
from agent.pipeline.care.localtime import LocalDays
from agent.pipeline.care.rules import INACTIVITY
from agent.records import Reading
from agent.rules import CareRule, DailyWindow

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def berlin(*args: int, fold: int = 0) -> float:
    return datetime(*args, tzinfo=BERLIN, fold=fold).timestamp()  # type: ignore[misc]


def window(a: int, b: int) -> DailyWindow:
    return DailyWindow(a * 60, b * 60)


def test_spring_forward_day_windows_keep_their_wall_clock_edges() -> None:
    days = LocalDays("Europe/Berlin")
    start, end = berlin(2025, 3, 30), berlin(2025, 3, 31)
    assert end - start == 23 * HOUR
    assert days.seconds_inside((window(1, 4),), start, end) == 2 * HOUR  # 02:00-03:00 does not exist
    assert days.seconds_inside((window(6, 22),), start, end) == 16 * HOUR
    assert days.seconds_inside((window(0, 12), window(12, 24)), start, end) == 23 * HOUR
    assert days.inside((window(6, 22),), berlin(2025, 3, 30, 6, 0))
    assert not days.inside((window(6, 22),), berlin(2025, 3, 30, 5, 59))


def test_fall_back_day_counts_the_repeated_hour_once_per_occurrence() -> None:
    days = LocalDays("Europe/Berlin")
    start, end = berlin(2025, 10, 26), berlin(2025, 10, 27)
    assert end - start == 25 * HOUR
    assert days.seconds_inside((window(1, 4),), start, end) == 4 * HOUR
    # a night window that crosses midnight and the change
    assert days.seconds_inside((window(22, 6),), berlin(2025, 10, 25, 12), berlin(2025, 10, 26, 12)) == 9 * HOUR
    assert days.inside((window(2, 3),), berlin(2025, 10, 26, 2, 30, fold=0))
    assert days.inside((window(2, 3),), berlin(2025, 10, 26, 2, 30, fold=1))


def test_windows_are_local_not_utc() -> None:
    days = LocalDays("Asia/Shanghai")
    utc_day = datetime(2025, 3, 3, tzinfo=ZoneInfo("UTC")).timestamp()
    # 07:00-09:00 in Shanghai is 23:00-01:00 UTC: one hour of it in each UTC day
    assert days.seconds_inside((window(7, 9),), utc_day, utc_day + 24 * HOUR) == 2 * HOUR
    assert days.seconds_inside((window(7, 9),), utc_day + HOUR, utc_day + 23 * HOUR) == 0
    overlapping = (window(8, 12), window(10, 14))
    assert days.seconds_inside(overlapping, utc_day - 8 * HOUR, utc_day + 16 * HOUR) == 6 * HOUR


def test_an_inactivity_alarm_on_a_dst_day_comes_at_the_local_hour() -> None:
    rule = CareRule(device="flat", point="total", kind=INACTIVITY, hours=6, interval_s=900, timezone="Europe/Berlin",
                    windows=(window(6, 22),))
    engine = CareEngine()
    engine.configure([rule])
    start = berlin(2025, 3, 30)
    events = []
    for minute in range(23 * 60):
        events += engine.observe(Reading("flat", "total", 10.0, start + minute * 60.0))
    assert [(e.kind, datetime.fromtimestamp(e.ts, BERLIN).strftime("%H:%M")) for e in events] == [("alarm", "12:00")]
