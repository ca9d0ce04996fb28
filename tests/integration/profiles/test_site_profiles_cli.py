"""A site's own profiles, as a technician meets them: the real ``edgepost`` command as a subprocess.

Site directories (``$EDGEPOST_PROFILE_DIR`` as a ``:`` path, the config's ``profile_dirs``) are
searched before the shipped profiles, never instead of them; a site profile with a shipped id
overrides it, and ``profile list``/``show`` say which file each came from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry

EDGEPOST = Path(sys.executable).parent / "edgepost"
SHIPPED = ProfileRegistry.load(DEFAULT_PROFILE_DIR).ids()

OWN_METER = """\
vendor: Acme
model: PM-100
source: Acme PM-100 manual rev 3
points:
  voltage: {table: input, address: 0, type: float32, order: CDAB, unit: V}
"""

SDM120_OVERRIDE = """\
vendor: Eastron
model: SDM120
description: our SDM120s have a patched firmware
source: site survey 2024
points:
  voltage: {table: input, address: 0, type: float32, unit: V}
"""


def write(root: Path, profile_id: str, text: str) -> Path:
    path = root / f"{profile_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def edgepost(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("EDGEPOST_PROFILE_DIR", "EDGEPOST_CONFIG")}
    return subprocess.run(
        [str(EDGEPOST), *args], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120
    )


def listed(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    done = edgepost("--json", *args, "profile", "list", env=env)
    assert done.returncode == 0, done.stderr
    return {entry["id"]: entry for entry in orjson.loads(done.stdout)}


def test_one_own_profile_does_not_hide_the_shipped_ones(tmp_path: Path) -> None:
    own = write(tmp_path / "site", "acme/pm-100", OWN_METER)
    profiles = listed(env={"EDGEPOST_PROFILE_DIR": str(tmp_path / "site")})
    assert set(SHIPPED) <= set(profiles)
    assert profiles["acme/pm-100"]["file"] == str(own)
    assert str(profiles["eastron/sdm120"]["file"]).startswith(str(DEFAULT_PROFILE_DIR))


def test_the_environment_variable_is_a_path(tmp_path: Path) -> None:
    write(tmp_path / "a", "acme/pm-100", OWN_METER)
    write(tmp_path / "b", "acme/pm-200", OWN_METER.replace("PM-100", "PM-200"))
    profiles = listed(env={"EDGEPOST_PROFILE_DIR": f"{tmp_path / 'a'}:{tmp_path / 'b'}"})
    assert {"acme/pm-100", "acme/pm-200", "eastron/sdm120"} <= set(profiles)


def test_a_site_profile_overrides_the_shipped_one_and_says_so(tmp_path: Path) -> None:
    site = tmp_path / "site"
    own = write(site, "eastron/sdm120", SDM120_OVERRIDE)
    env = {"EDGEPOST_PROFILE_DIR": str(site)}
    entry = listed(env=env)["eastron/sdm120"]
    assert entry["file"] == str(own)
    assert entry["overrides"] == [str(DEFAULT_PROFILE_DIR / "eastron" / "sdm120.yaml")]
    table = edgepost("profile", "list", env=env)
    row = next(line for line in table.stdout.splitlines() if "eastron/sdm120 " in line)
    assert str(own) in row and "overrides shipped" in row
    other = next(line for line in table.stdout.splitlines() if "keller/series30 " in line)
    assert "shipped" in other
    shown = edgepost("profile", "show", "eastron/sdm120", env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"file {own} (overrides shipped)" in shown.stdout
    assert "import_energy" not in shown.stdout  # the site's map, not the shipped one
    as_json = orjson.loads(edgepost("profile", "show", "eastron/sdm120", "--json", env=env).stdout)
    assert as_json["description"] == "our SDM120s have a patched firmware" and as_json["file"] == str(own)


def test_a_site_variant_extends_a_shipped_profile(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(
        site,
        "acme/sdm120-relay",
        """\
        extends: eastron/sdm120
        model: SDM120 relay build
        points:
          relay: {table: coil, address: 0, access: rw}
        """,
    )
    shown = edgepost("--json", "profile", "show", "acme/sdm120-relay", env={"EDGEPOST_PROFILE_DIR": str(site)})
    assert shown.returncode == 0, shown.stderr
    points = orjson.loads(shown.stdout)["points"]
    assert "relay" in points and "import_energy" in points


def test_the_config_key_profile_dirs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site, "acme/pm-100", OWN_METER)
    config = tmp_path / "config.yaml"
    config.write_text(
        "gateway: {id: pole-1}\n"
        f"state_dir: {tmp_path / 'state'}\n"
        f"profile_dirs: [{tmp_path / 'nowhere'}, {site}]\n"
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: rs485\n"
        "    buses: [{name: bus1, transport: serial, port: /dev/null}]\n"
        "    devices:\n"
        "      - {name: meter, bus: bus1, unit_id: 1, profile: acme/pm-100}\n"
        "      - {name: grid, bus: bus1, unit_id: 2, profile: eastron/sdm120}\n"
    )
    valid = edgepost("--config", str(config), "config", "validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    profiles = listed("--config", str(config))
    assert "acme/pm-100" in profiles and "eastron/sdm120" in profiles


def test_profile_dirs_from_a_conf_d_drop_in(tmp_path: Path) -> None:
    """A provisioning tool adds the site's profile directory with one drop-in file."""
    site = tmp_path / "site"
    write(site, "acme/pm-100", OWN_METER)
    config = tmp_path / "config.yaml"
    config.write_text("gateway: {id: pole-1}\n")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-profiles.yaml").write_text(f"profile_dirs: [{site}]\n")
    assert "acme/pm-100" in listed("--config", str(config))


def test_relative_profile_dirs_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("gateway: {id: pole-1}\nprofile_dirs: [site/profiles]\n")
    done = edgepost("--config", str(config), "config", "validate")
    assert done.returncode == 2
    assert f"{config}:2:" in done.stderr + done.stdout and "absolute" in done.stderr + done.stdout


def test_an_unknown_profile_names_the_directories_searched(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site, "acme/pm-100", OWN_METER)
    done = edgepost("profile", "show", "schneider/iem3000", env={"EDGEPOST_PROFILE_DIR": str(site)})
    assert done.returncode == 1
    message = done.stderr.strip()
    assert message.startswith("edgepost profile: error: unknown profile 'schneider/iem3000'; searched ")
    assert str(site) in message and str(DEFAULT_PROFILE_DIR) in message and "/etc/edgepost/profiles" in message
    assert "did you mean" not in message  # nothing is close (it used to say keller/series30)
    close = edgepost("profile", "show", "eastron/sdm12O", env={"EDGEPOST_PROFILE_DIR": str(site)})
    assert "(did you mean 'eastron/sdm120'?)" in close.stderr


def test_an_unknown_profile_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "gateway: {id: pole-1}\n"
        f"profile_dirs: [{tmp_path / 'site'}]\n"
        "drivers:\n"
        "  - driver: modbus\n"
        "    name: rs485\n"
        "    buses: [{name: bus1, transport: serial, port: /dev/null}]\n"
        "    devices: [{name: m, bus: bus1, unit_id: 1, profile: schneider/iem3000}]\n"
    )
    done = edgepost("--config", str(config), "config", "validate")
    assert done.returncode == 2
    out = done.stdout + done.stderr
    assert "drivers[0].devices[0].profile: unknown profile 'schneider/iem3000'; searched " in out
    assert f"{tmp_path / 'site'} (missing)" in out and "keller" not in out


def test_validate_reports_every_problem_of_a_file_in_line_order(tmp_path: Path) -> None:
    site = tmp_path / "site"
    path = write(
        site,
        "acme/box",
        """\
        vendor: Acme
        model: Box
        source: x
        points:
          voltage: {table: input, address: 0, type: float32, order: ABDC}
          current: {table: input, address: 1, type: float32}
          power: {table: input, adress: 4, type: float32}
          energy: {table: input, address: 6, type: uint64, word_order: CDAB}
          mode: {table: holding, address: 0, type: unit16}
        alarms:
          hot: {point: temprature, above: 60}
          lost: {point: mode, below: 1}
        """,
    )
    done = edgepost("profile", "validate", str(path))
    assert done.returncode == 1
    # schema errors and the checks that need a validated map (the overlap) come in one run, by line;
    # the alarm on the broken point 'mode' is not called unknown
    assert done.stdout.splitlines() == [
        f"{path}:5:54 points.voltage.order: not a byte layout of float32 (4 bytes): "
        "expected ABCD, CDAB, BADC, DCBA, or big/little, got 'ABDC'",
        f"{path}:6:27 points.current.address: input 1..2 overlaps points.voltage (input 0..1)",
        f"{path}:7:3 points.power.address: required key is missing",
        f"{path}:7:25 points.power.adress: unknown key (did you mean 'address'?)",
        f"{path}:8:52 points.energy.word_order: not a byte layout of uint64 (8 bytes): "
        "expected ABCDEFGH, GHEFCDAB, BADCFEHG, HGFEDCBA, or big/little, got 'CDAB'",
        f"{path}:9:38 points.mode.type: Input should be 'bool', 'int16', 'uint16', 'int32', 'uint32', "
        "'int64', 'uint64', 'float32', 'float64', 'string' or 'bitfield', got 'unit16'",
        f"{path}:11:9 alarms.hot.point: unknown point 'temprature'",
        "7 problem(s) in 1 profile(s) (modbus 1)",
    ]


def test_the_layout_show_prints_is_accepted_back(tmp_path: Path) -> None:
    site = tmp_path / "site"
    path = write(
        site,
        "acme/flow",
        """\
        vendor: Acme
        model: Flow
        source: x
        points:
          flow: {table: holding, address: 0, type: float32, order: CDAB}
          total: {table: holding, address: 2, type: uint64, order: GHEFCDAB}
          probe: {table: holding, address: 6, type: float32, byte_order: DCBA}
          status: {table: holding, address: 8, type: uint16, order: BA}
        """,
    )
    assert edgepost("profile", "validate", str(path)).returncode == 0
    shown = edgepost("profile", "show", "acme/flow", env={"EDGEPOST_PROFILE_DIR": str(site)})
    orders = {line.split("│")[1].strip(): line.split("│")[5].strip() for line in shown.stdout.splitlines()
              if line.count("│") > 5 and "name" not in line}
    assert orders == {"flow": "CDAB", "total": "GHEFCDAB", "probe": "DCBA", "status": "BA"}
