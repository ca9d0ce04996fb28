"""conf.d/*.yaml drop-ins: the merge rule (agent/config_dropins.py) and file:line in every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from agent.config_dropins import dropin_files, load_with_dropins
from agent.errors import ConfigError

MAIN = """\
gateway:
  id: pole-1
  site: Main St
drivers:
  - driver: modbus
    name: rs485
    buses:
      - {transport: serial, name: bus1, port: /dev/ttyUSB0}
    devices:
      - {name: m1, bus: bus1, unit_id: 1, profile: eastron/sdm120}
      - {name: m2, bus: bus1, unit_id: 2, profile: eastron/sdm120}
uplink:
  host: 127.0.0.1
  port: 1883
"""


def write(folder: Path, files: dict[str, str], main: str = MAIN) -> Path:
    (folder / "conf.d").mkdir()
    config = folder / "config.yaml"
    config.write_text(main)
    for name, text in files.items():
        (folder / "conf.d" / name).write_text(text)
    return config


def problems_of(config: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return list(caught.value.problems)


def test_mappings_merge_key_by_key_and_later_files_win(tmp_path: Path) -> None:
    config = write(tmp_path, {
        "20-uplink.yaml": "uplink: {port: 8883}\ngateway: {site: Elm St}\n",
        "10-site.yaml": "gateway: {site: Oak St}\nlogging: {level: debug}\n",
    })
    loaded = load_config(config)
    assert loaded.gateway.id == "pole-1"  # kept from the main file
    assert loaded.gateway.site == "Elm St"  # 20-uplink.yaml comes after 10-site.yaml
    assert loaded.uplink.port == 8883 and loaded.uplink.host == "127.0.0.1"
    assert loaded.logging.level == "debug"


def test_drivers_merge_by_name_new_names_are_appended(tmp_path: Path) -> None:
    config = write(tmp_path, {"50-tcp.yaml": (
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: cabinet\n"
        "    buses: [{transport: tcp, name: gw, host: 127.0.0.1, port: 5020}]\n"
        "    devices: [{name: m9, bus: gw, unit_id: 9, profile: eastron/sdm120}]\n"
    )})
    loaded = load_config(config)
    assert [d.name for d in loaded.drivers] == ["rs485", "cabinet"]


def test_a_driver_of_the_same_name_is_merged_and_its_lists_replaced(tmp_path: Path) -> None:
    config = write(tmp_path, {"50-meters.yaml": (
        "drivers:\n"
        "  - name: rs485\n"
        "    devices:\n"
        "      - {name: m7, bus: bus1, unit_id: 7, profile: eastron/sdm120}\n"
    )})
    loaded = load_config(config)
    assert len(loaded.drivers) == 1
    driver = loaded.drivers[0]
    assert [b.name for b in driver.buses] == ["bus1"]  # type: ignore[attr-defined]
    assert [d.name for d in driver.devices] == ["m7"]  # type: ignore[attr-defined]


def test_only_yaml_files_count_in_name_order(tmp_path: Path) -> None:
    config = write(tmp_path, {
        "b.yaml": "gateway: {site: B}\n",
        "a.yaml": "gateway: {site: A}\n",
        "c.yaml.dpkg-dist": "gateway: {site: [not, valid]}\n",
        "README": "not yaml: [\n",
        "empty.yaml": "",
    })
    assert [p.name for p in dropin_files(config)] == ["a.yaml", "b.yaml", "empty.yaml"]
    assert load_config(config).gateway.site == "B"


def test_no_conf_d_is_the_plain_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MAIN)
    assert load_with_dropins(config).source == str(config)
    assert load_config(config).gateway.site == "Main St"


def test_an_error_set_by_a_dropin_names_the_dropin_line(tmp_path: Path) -> None:
    dropin = "uplink:\n  host: 127.0.0.1\n  port: 70000\n"
    config = write(tmp_path, {"10-uplink.yaml": dropin})
    problems = problems_of(config)
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'conf.d' / '10-uplink.yaml'}:3:3 uplink.port:"), problems


def test_an_error_left_in_the_main_file_still_names_the_main_file(tmp_path: Path) -> None:
    main = MAIN.replace("unit_id: 2,", "unit_id: 300,")
    config = write(tmp_path, {"10-site.yaml": "gateway: {site: Oak St}\n"}, main=main)
    problems = problems_of(config)
    assert len(problems) == 1
    assert problems[0].startswith(f"{config}:11:") and "drivers[0].devices[1].unit_id" in problems[0], problems


def test_a_merged_driver_reports_the_dropin_line_and_the_merged_index(tmp_path: Path) -> None:
    dropin = (
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: cabinet\n"
        "    buses: [{transport: tcp, name: gw, host: 127.0.0.1, port: 5020}]\n"
        "    devices:\n"
        "      - {name: m9, bus: gw, unit_id: 9, profile: eastron/nonexistent}\n"
        "  - name: rs485\n"
        "    devices:\n"
        "      - {name: m1, bus: bus1, unit_id: 1, profile: eastron/sdm120}\n"
        "      - {name: m3, bus: bus1, unit_id: 0, profile: eastron/sdm120}\n"
    )
    config = write(tmp_path, {"50-meters.yaml": dropin})
    problems = problems_of(config)
    where = tmp_path / "conf.d" / "50-meters.yaml"
    # rs485 stays drivers[0] (merged by name); cabinet is appended as drivers[1]
    assert any(p.startswith(f"{where}:10:") and "drivers[0].devices[1].unit_id" in p for p in problems), problems
    assert all(p.startswith(f"{where}:") for p in problems), problems


def test_a_reference_problem_in_a_dropin_names_the_dropin(tmp_path: Path) -> None:
    dropin = (
        "drivers:\n  - name: rs485\n    devices:\n"
        "      - {name: m5, bus: bus1, unit_id: 5, profile: eastron/nope}\n"
    )
    config = write(tmp_path, {"50-meters.yaml": dropin})
    problems = problems_of(config)
    assert problems and all(p.startswith(f"{tmp_path / 'conf.d' / '50-meters.yaml'}:4:") for p in problems), problems


def test_a_dropin_that_is_not_a_mapping_is_refused_by_name(tmp_path: Path) -> None:
    config = write(tmp_path, {"10-bad.yaml": "- just\n- a list\n"})
    problems = problems_of(config)
    assert problems[0].startswith(f"{tmp_path / 'conf.d' / '10-bad.yaml'}:1:1:"), problems


def test_a_yaml_syntax_error_in_a_dropin_names_its_line(tmp_path: Path) -> None:
    config = write(tmp_path, {"10-bad.yaml": "gateway:\n  site: [unclosed\n"})
    problems = problems_of(config)
    assert problems[0].startswith(f"{tmp_path / 'conf.d' / '10-bad.yaml'}:"), problems

