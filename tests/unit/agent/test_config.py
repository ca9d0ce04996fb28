"""Config errors name the file, line and column, the field path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config, parse_config
from agent.errors import ConfigError

GOOD = """\
gateway:
  id: pole-0042
  site: Main St 12
drivers:
  - driver: modbus
    name: rs485
    buses:
      - name: bus1
        transport: serial
        port: /dev/ttyUSB0
    devices:
      - name: meter
        bus: bus1
        unit_id: 1
        profile: eastron/sdm120
      - name: tilt
        bus: bus1
        unit_id: 300
        profile: witmotion/wt901c-485
"""


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [p.replace(str(path), "config.yaml") for p in info.value.problems]


def test_out_of_range_unit_id_names_file_line_column_and_path(tmp_path: Path) -> None:
    assert problems(GOOD, tmp_path) == ["config.yaml:18:9 drivers[0].devices[1].unit_id: must be 1..247, got 300"]


def test_unknown_key_is_an_error_at_the_key(tmp_path: Path) -> None:
    text = GOOD.replace("unit_id: 300", "unit_id: 3").replace("  site: Main St 12\n", "  site: x\n  colour: red\n")
    assert problems(text, tmp_path) == ["config.yaml:4:3 gateway.colour: unknown key"]


def test_missing_required_section(tmp_path: Path) -> None:
    assert problems("drivers: []\n", tmp_path) == ["config.yaml:1:1 gateway: required key is missing"]


def test_unknown_driver_kind_is_reported_on_the_entry(tmp_path: Path) -> None:
    text = "gateway: {id: p}\ndrivers:\n  - driver: zigbee\n    name: z\n"
    [problem] = problems(text, tmp_path)
    assert problem.startswith("config.yaml:3:5 drivers[0]")
    assert "zigbee" in problem and "modbus" in problem  # says what was found and what is allowed


def test_yaml_syntax_error_and_duplicate_key(tmp_path: Path) -> None:
    [syntax] = problems("gateway: {id: p\n", tmp_path)
    assert syntax.startswith("config.yaml:2:1:")
    [dup] = problems("gateway: {id: p}\ngateway: {id: q}\n", tmp_path)
    assert dup.startswith("config.yaml:2:1:") and "duplicate" in dup


def test_plaintext_to_a_remote_broker_is_refused_unless_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("gateway: {id: p}\nuplink: {host: 192.0.2.10}\n", "c.yaml")
    assert info.value.problems[0].startswith("c.yaml:2:1 uplink: plaintext MQTT to non-loopback host")
    cfg = parse_config("gateway: {id: p}\nuplink: {host: 192.0.2.10, allow_insecure: true}\n")
    assert cfg.uplink.allow_insecure


def test_good_config_parses_with_defaults() -> None:
    cfg = parse_config(GOOD.replace("unit_id: 300", "unit_id: 2"))
    assert cfg.gateway.id == "pole-0042"
    assert cfg.outbox.durability == "power-safe"
    assert cfg.drivers[0].name == "rs485"


def test_shipped_default_config_is_valid() -> None:
    shipped = Path(__file__).parents[3] / "packaging" / "config.yaml"
    if not shipped.exists():
        pytest.skip("packaging/config.yaml not present")
    load_config(shipped)


def test_unknown_profile_and_point_are_refused_at_load_with_their_lines(tmp_path: Path) -> None:
    text = GOOD.replace("unit_id: 300", "unit_id: 3").replace("eastron/sdm120", "eastron/sdm999")
    tilt = "        profile: witmotion/wt901c-485\n"
    text = text.replace(tilt, tilt + "        points: [roll, nosuch]\n")
    found = problems(text, tmp_path)
    assert found[0].startswith("config.yaml:15:9 drivers[0].devices[0].profile: unknown profile 'eastron/sdm999'")
    assert found[1] == (
        "config.yaml:20:9 drivers[0].devices[1].points: no readable point 'nosuch' in profile witmotion/wt901c-485"
    )


def test_unknown_keys_get_a_did_you_mean(tmp_path: Path) -> None:
    text = (
        "gateway: {id: pole-1, sit: Main St}\n"
        "profile_dir: [/etc/edgepost/profiles]\n"
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: rs485\n"
        "    buses: [{name: b, transport: serial, port: /dev/null, baudrat: 9600}]\n"
    )
    assert problems(text, tmp_path) == [
        "config.yaml:1:23 gateway.sit: unknown key (did you mean 'site'?)",
        "config.yaml:6:59 drivers[0].buses[0].baudrat: unknown key (did you mean 'baudrate'?)",
        "config.yaml:2:1 profile_dir: unknown key (did you mean 'profile_dirs'?)",
    ]


def test_a_config_validates_against_the_drivers_it_names_and_an_unknown_one_against_all(tmp_path: Path) -> None:
    from agent.config import named_drivers

    assert named_drivers({"drivers": [{"driver": "modbus"}, {"driver": "modbus"}]}) == ("modbus",)
    assert named_drivers({"drivers": [{"driver": "modbus"}, {"driver": "zigbee"}]}) is None
    assert named_drivers({"drivers": [{"name": "no driver key"}]}) is None
    # a modbus entry with a wrong key is reported the same way whichever union it was validated against
    text = GOOD.replace("unit_id: 300", "unit_id: 3").replace("    name: rs485\n", "    name: rs485\n    colour: red\n")
    assert problems(text, tmp_path) == ["config.yaml:7:5 drivers[0].colour: unknown key"]
    # next to an unknown driver, the known ones are all listed
    [problem] = problems(text.replace("    colour: red\n", "").replace(
        "drivers:\n", "drivers:\n  - {driver: zigbee, name: z}\n"), tmp_path)
    assert "zigbee" in problem and "modbus" in problem and "camera" in problem and "dlt645" in problem
