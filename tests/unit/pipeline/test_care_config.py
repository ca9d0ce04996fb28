"""The ``care:`` section: rules keyed by device.point, errors with file:line, references checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import care_reference_problems, load_config
from agent.errors import ConfigError
from agent.pipeline.care.config import CareConfig, parse_window
from agent.rules import CareRule, DailyWindow

BASE = """\
gateway: {id: pole-7}
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {name: bus1, transport: serial, port: /dev/ttyUSB0}
    devices:
      - {name: flat.0301, bus: bus1, unit_id: 1, profile: oem/tuf-2000m, points: [positive_total, flow_rate]}
"""
CARE = """\
care:
  timezone: Asia/Shanghai
  points:
    flat.0301.positive_total:
      wrap: 100000
      inactivity: {hours: 12, window: "06:00-22:00", min_flow: 0.005, quiet_hours: ["12:30-14:00"]}
      continuous_flow: {hours: 3, interval_min: 10, severity: critical, message: "check the flat"}
"""


def load(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [p.replace(str(path), "config.yaml") for p in info.value.problems]


def test_a_care_section_becomes_one_rule_per_kind(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE + CARE)
    inactivity, flow = load_config(path).care.rules()
    assert inactivity == CareRule(
        device="flat.0301", point="positive_total", kind="inactivity", hours=12, interval_s=900.0,
        timezone="Asia/Shanghai", min_flow_per_h=0.005, windows=(DailyWindow(360, 1320),),
        quiet=(DailyWindow(750, 840),), wrap=100000.0,
    )
    assert (flow.kind, flow.hours, flow.interval_s, flow.windows, flow.severity, flow.message) == (
        "continuous_flow", 3, 600.0, (DailyWindow(0, 1440),), "critical", "check the flat"
    )


def test_no_care_section_means_no_rules(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE)
    assert load_config(path).care.rules() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("Asia/Shanghai", "Asia/Shangai"),
         "config.yaml:10:3 care.timezone: unknown time zone; expected an IANA name such as Asia/Shanghai,"
         " got 'Asia/Shangai'"),
        (("  timezone: Asia/Shanghai\n", ""),
         "config.yaml:9:1 care: 'timezone' is required with care points (the site's local time, e.g. Asia/Shanghai)"),
        (('"06:00-22:00"', '"6h-22h"'),
         "config.yaml:14:31 care.points.flat.0301.positive_total.inactivity.window: '6h-22h' is not a local time"
         " range 'HH:MM-HH:MM' such as '06:00-22:00', got '6h-22h'"),
        (('"06:00-22:00"', '"22:00-22:00"'),
         "config.yaml:14:31 care.points.flat.0301.positive_total.inactivity.window: '22:00-22:00' is empty;"
         " use '00:00-24:00' for the whole day, got '22:00-22:00'"),
        (("interval_min: 10", "interval_min: 240"),
         "config.yaml:15:7 care.points.flat.0301.positive_total.continuous_flow: hours (3 h) is shorter than one"
         " interval (240 min): lower interval_min or raise hours"),
        (("hours: 12", "hours: 0"),
         "config.yaml:14:20 care.points.flat.0301.positive_total.inactivity.hours: Input should be greater than 0,"
         " got 0"),
        (("severity: critical", "severity: urgent"),
         "config.yaml:15:53 care.points.flat.0301.positive_total.continuous_flow.severity: Input should be 'low',"
         " 'medium', 'high' or 'critical', got 'urgent'"),
        (("wrap: 100000", "wrap: 100000\n      leak: {hours: 1}"),
         "config.yaml:14:7 care.points.flat.0301.positive_total.leak: unknown key"),
        (("flat.0301.positive_total:", "flat.0302.positive_total:"),
         "config.yaml:12:5 care.points.flat.0302.positive_total: no device 'flat.0302' in the drivers' config"
         " (devices: flat.0301)"),
        (("flat.0301.positive_total:", "flat.0301.net_total:"),
         "config.yaml:12:5 care.points.flat.0301.net_total: device 'flat.0301' reports no point 'net_total'"
         " (its points: flow_rate, positive_total)"),
    ],
    ids=["zone", "no-zone", "window", "empty-window", "interval", "hours", "severity", "unknown-rule",
         "unknown-device", "unpolled-point"],
)
def test_mistakes_name_the_file_line_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    text = (BASE + CARE).replace(*change)
    assert load(text, tmp_path) == [expected]


def test_a_key_without_a_dot_and_a_point_without_rules(tmp_path: Path) -> None:
    text = BASE + CARE + "    flat0301:\n      inactivity: {hours: 1}\n    flat.0301.flow_rate: {}\n"
    assert load(text, tmp_path) == [
        "config.yaml:16:5 care.points.flat0301.[key]: care points are keyed 'device.point'"
        " (e.g. flat-0301.positive_total), got 'flat0301'",
        "config.yaml:18:5 care.points.flat.0301.flow_rate: give 'inactivity', 'continuous_flow' or both",
    ]


def test_a_driver_that_cannot_list_its_devices_leaves_unknown_devices_to_run_time() -> None:
    care = CareConfig.model_validate(
        {"timezone": "UTC", "points": {"cam.people": {"inactivity": {"hours": 1}},
                                        "flat.net_total": {"inactivity": {"hours": 1}}}}
    )
    declared = {"flat": frozenset({"positive_total"})}
    assert [m for _, m in care_reference_problems(care, declared, complete=False)] == [
        "device 'flat' reports no point 'net_total' (its points: positive_total)"
    ]
    assert len(care_reference_problems(care, declared, complete=True)) == 2


@pytest.mark.parametrize(
    ("text", "window"),
    [("06:00-22:00", DailyWindow(360, 1320)), ("22:00-06:30", DailyWindow(1320, 390)),
     ("00:00-24:00", DailyWindow(0, 1440)), (" 7:05 - 9:00 ", DailyWindow(425, 540))],
)
def test_time_ranges(text: str, window: DailyWindow) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize("text", ["24:00-06:00", "06:60-07:00", "06:00", "06:00-24:30", "a-b"])
def test_bad_time_ranges(text: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|hours are"):
        parse_window(text)
