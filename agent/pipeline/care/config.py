"""The ``care:`` config section: inactivity and continuous-flow rules on counter points.

    care:
      timezone: Asia/Shanghai             # the site's local time, for windows and quiet hours
      points:
        flat-0301.positive_total:         # device.point, any driver's counter point
          inactivity: {hours: 12, window: "06:00-22:00", min_flow: 0.002}
          continuous_flow: {hours: 3, quiet_hours: "01:00-05:00"}

Rules are keyed by ``device.point`` (split at the last dot) so they work on any driver's counter.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.pipeline.care.rules import CONTINUOUS_FLOW, INACTIVITY
from agent.rules import CareRule, DailyWindow

_TIME_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
WHOLE_DAY = "00:00-24:00"


def parse_window(text: str) -> DailyWindow:
    """``"22:00-06:00"`` -> ``DailyWindow``; raises ``ValueError`` saying what was expected."""
    match = _TIME_RANGE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a local time range 'HH:MM-HH:MM' such as '06:00-22:00'")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em != 0):
        raise ValueError(f"{text!r}: hours are 00..23 (24:00 only as an end), minutes 00..59")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end:
        raise ValueError(f"{text!r} is empty; use {WHOLE_DAY!r} for the whole day")
    return DailyWindow(start, end)


def _windows(value: str | list[str]) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    for text in texts:
        parse_window(text)
    return texts


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: float = Field(gt=0, le=24 * 31, description="how long the condition must hold before the alarm")
    interval_min: float = Field(
        15.0, gt=0, le=24 * 60,
        description="the counter is judged per interval of this length; a reading gap longer than it is unknown",
    )
    min_flow: float = Field(
        0.0, ge=0, description="counter units per hour: an interval that rose less is no flow (drips, creep)"
    )
    quiet_hours: str | list[str] = Field(
        default_factory=list, description="local time ranges in which the alarm is not raised (it is afterwards)"
    )
    severity: Literal["low", "medium", "high", "critical"] = "high"
    message: str | None = None

    @field_validator("quiet_hours")
    @classmethod
    def _valid_quiet_hours(cls, value: str | list[str]) -> str | list[str]:
        _windows(value)
        return value

    @model_validator(mode="after")
    def _at_least_one_interval(self) -> _Rule:
        if self.hours * 60 < self.interval_min:
            raise ValueError(
                f"hours ({self.hours:g} h) is shorter than one interval ({self.interval_min:g} min): "
                "lower interval_min or raise hours"
            )
        return self

    def quiet(self) -> tuple[DailyWindow, ...]:
        return tuple(parse_window(t) for t in _windows(self.quiet_hours))


class InactivityConfig(_Rule):
    """No use for ``hours``, counting only time inside ``window`` (welfare alarm)."""

    window: str | list[str] = Field(WHOLE_DAY, description="local time ranges whose hours count")

    @field_validator("window")
    @classmethod
    def _valid_window(cls, value: str | list[str]) -> str | list[str]:
        if not _windows(value):
            raise ValueError(f"give at least one time range (the whole day is {WHOLE_DAY!r})")
        return value


class ContinuousFlowConfig(_Rule):
    """Use in every interval for ``hours`` (a leak, or a tap left open)."""


class CarePointConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    inactivity: InactivityConfig | None = None
    continuous_flow: ContinuousFlowConfig | None = None
    wrap: float | None = Field(None, gt=0, description="the counter rolls over to 0 at this value (its dial size)")

    @model_validator(mode="after")
    def _some_rule(self) -> CarePointConfig:
        if self.inactivity is None and self.continuous_flow is None:
            raise ValueError("give 'inactivity', 'continuous_flow' or both")
        return self


def split_point_key(key: str) -> tuple[str, str]:
    """``"flat-0301.positive_total"`` -> (device, point); device names may hold dots, point names not."""
    device, dot, point = key.rpartition(".")
    if not dot or not device or not point:
        raise ValueError("care points are keyed 'device.point' (e.g. flat-0301.positive_total)")
    return device, point


def _point_key(key: str) -> str:
    split_point_key(key)
    return key


PointKey = Annotated[str, AfterValidator(_point_key)]


class CareConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = Field(None, description="IANA time zone of the site, e.g. Asia/Shanghai")
    save_interval_s: float = Field(60.0, gt=0, le=3600, description="rule state is saved this often")
    points: dict[PointKey, CarePointConfig] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; expected an IANA name such as Asia/Shanghai") from None
        return value

    @model_validator(mode="after")
    def _zone_given(self) -> CareConfig:
        if self.points and self.timezone is None:
            raise ValueError("'timezone' is required with care points (the site's local time, e.g. Asia/Shanghai)")
        return self

    def rules(self) -> list[CareRule]:
        out: list[CareRule] = []
        for key, point in self.points.items():
            device, name = split_point_key(key)
            assert self.timezone is not None  # _zone_given
            if point.inactivity is not None:
                rule = point.inactivity
                windows = tuple(parse_window(t) for t in _windows(rule.window))
                out.append(_care_rule(device, name, INACTIVITY, rule, self.timezone, point.wrap, windows))
            if point.continuous_flow is not None:
                out.append(_care_rule(device, name, CONTINUOUS_FLOW, point.continuous_flow, self.timezone, point.wrap))
        return out


def _care_rule(device: str, point: str, kind: str, rule: _Rule, timezone: str, wrap: float | None,
               windows: tuple[DailyWindow, ...] = (DailyWindow(0, 24 * 60),)) -> CareRule:
    return CareRule(
        device=device,
        point=point,
        kind=kind,
        hours=rule.hours,
        interval_s=rule.interval_min * 60.0,
        timezone=timezone,
        min_flow_per_h=rule.min_flow,
        windows=windows,
        quiet=rule.quiet(),
        wrap=wrap,
        severity=rule.severity,
        message=rule.message,
    )
