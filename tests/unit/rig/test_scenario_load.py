"""Scenario files: file:line errors like the config's, references checked, --short and soak timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from rig.catalogue import resolve, shipped
from rig.faults.timeline import schedule
from rig.scenario.load import load_scenario

GOOD = """\
name: t
pole:
  buses:
    - name: bus1
      devices:
        - {name: meter, unit: 1, profile: eastron/sdm120, points: {voltage: 230.0}}
timeline:
  - {fault: device_silent, at: 10, for_s: 20, device: meter}
  - {fault: agent_kill9, at: 40, repeat: 3, random_within_s: 50}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_scenario(_write(tmp_path, text))
    return info.value.problems


def test_every_shipped_scenario_loads() -> None:
    names = [load_scenario(path).name for path in shipped()]
    assert "basic-pole" in names and len(names) == len(set(names))


def test_a_good_scenario_loads(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    assert scenario.pole.buses[0].devices[0].polled == ["voltage"]
    assert [getattr(f, "fault", None) for f in scenario.timeline] == ["device_silent", "agent_kill9"]


def test_unknown_keys_and_bad_values_name_file_and_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, GOOD.replace("at: 10,", "at: -1, colour: red,"))
    assert any(":8:" in p and "timeline[0].at" in p for p in problems), problems
    assert any("timeline[0].colour: unknown key" in p for p in problems), problems


def test_unknown_fault_kind(tmp_path: Path) -> None:
    problems = _problems(tmp_path, GOOD.replace("fault: device_silent", "fault: meteor_strike"))
    assert any(p.startswith(f"{tmp_path / 's.yaml'}:8:") for p in problems), problems


def test_references_to_devices_profiles_and_points(tmp_path: Path) -> None:
    text = GOOD.replace("device: meter}", "device: metre}").replace("voltage: 230.0", "volts: 230.0")
    problems = _problems(tmp_path, text)
    assert any("timeline[0].device: no device 'metre'" in p and ":8:" in p for p in problems), problems
    assert any("pole.buses[0].devices[0].points: no such points ['volts']" in p for p in problems), problems
    problems = _problems(tmp_path, GOOD.replace("eastron/sdm120", "acme/nothing"))
    assert any("devices[0].profile" in p for p in problems), problems


def test_leaving_ci_needs_a_reason(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "ci: {enabled: false}\n" + GOOD)
    assert any("must say why" in p for p in problems), problems
    scenario = load_scenario(_write(tmp_path, "ci: {enabled: false, reason: issue 8 replug}\n" + GOOD))
    assert not scenario.ci.enabled


def test_yaml_syntax_error_has_a_position(tmp_path: Path) -> None:
    problems = _problems(tmp_path, GOOD + "  - {fault: tilt\n")
    assert problems[0].startswith(str(tmp_path / "s.yaml") + ":")


def test_short_compresses_times_and_keeps_durations_sensible(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, "duration_s: 100\nshort: {scale: 0.1}\n" + GOOD)).shortened()
    assert scenario.duration_s == pytest.approx(10)
    silent, kill = scenario.timeline
    assert (silent.at, silent.for_s) == (pytest.approx(1.0), pytest.approx(2.0))
    assert kill.random_within_s == pytest.approx(5.0) and kill.repeat == 3
    capped = load_scenario(_write(tmp_path, "short: {scale: 0.1, max_repeat: 1}\n" + GOOD)).shortened()
    assert capped.timeline[1].repeat == 1


def test_random_times_are_seeded(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    first = schedule(scenario.timeline, 7)
    assert first == schedule(scenario.timeline, 7)
    assert first != schedule(scenario.timeline, 8)
    kills = [t for t, f in first if getattr(f, "fault", "") == "agent_kill9"]
    assert len(kills) == 3 and all(40 <= t <= 90 for t in kills)


def test_soak_repeats_the_timeline(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, "duration_s: 600\n" + GOOD)).soaked(1.0)
    assert scenario.duration_s == 3600 and scenario.sample_s == 10.0 and len(scenario.timeline) == 12


def test_resolve_by_name_path_or_directory(tmp_path: Path) -> None:
    assert resolve(["basic-pole"])[0].name == "basic-pole.yaml"
    path = _write(tmp_path, GOOD)
    assert resolve([str(tmp_path)]) == [path]
    with pytest.raises(ConfigError):
        resolve(["no-such-scenario"])
