"""``edgepost profile validate|show|list`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drivers.dlt645.profiles import Dlt645Profiles
from drivers.modbus.cli.profile_cmd import app, byte_layout
from drivers.modbus.profile import Point
from drivers.modbus.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry, profile_search_path
from tests.unit.profiles.profile_tree import relative, write

runner = CliRunner()


def _searched() -> list[str]:
    return [f"{d}{'' if d.is_dir() else ' (missing)'}" for d in profile_search_path()]


def test_validate_shipped_profiles() -> None:
    """Every shipped profile is checked, each by its own driver's rules (the tree holds Modbus and DL/T 645)."""
    result = runner.invoke(app, ["validate", str(DEFAULT_PROFILE_DIR)])
    modbus = len(ProfileRegistry.load(DEFAULT_PROFILE_DIR).ids())
    dlt645 = len(Dlt645Profiles.load(DEFAULT_PROFILE_DIR).ids())
    assert modbus and dlt645
    assert result.exit_code == 0, result.output
    assert result.output == f"{modbus + dlt645} profile(s) valid (dlt645 {dlt645}, modbus {modbus})\n"


def test_validate_checks_dlt645_profiles_by_their_own_rules(root: Path) -> None:
    write(root, "acme/meter", "vendor: Acme\nmodel: M\nsource: x\npoints:\n  v: {table: input, address: 0}\n")
    meter = (DEFAULT_PROFILE_DIR / "clou" / "dsz719.yaml").read_text(encoding="utf-8")
    write(root, "clou/dsz719", meter)
    write(root, "clou/broken", meter.replace('edition: "1997"', 'edition: "2007"'))  # 2-byte DIs in a 2007 profile
    result = runner.invoke(app, ["validate", str(root)])
    assert result.exit_code == 1
    lines = relative(result.output.splitlines(), root)
    assert lines[-1] == f"{len(lines) - 1} problem(s) in 3 profile(s) (dlt645 2, modbus 1)"
    assert lines[:-1] and all(line.startswith("firmware_profiles/clou/broken.yaml:") for line in lines[:-1])
    assert "a 2-byte DI in a DL/T 645-2007 profile" in result.output
    ok = runner.invoke(app, ["validate", str(root / "clou" / "dsz719.yaml")])
    assert (ok.exit_code, ok.output) == (0, "1 profile(s) valid (dlt645 1)\n")


def test_validate_default_dir_honours_env(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(root, "acme/meter", "vendor: Acme\nmodel: M\nsource: x\npoints:\n  v: {table: input, address: 0, size: 2}\n")
    monkeypatch.setenv("EDGEPOST_PROFILE_DIR", str(root))
    result = runner.invoke(app, ["validate"])  # the whole search path: the env dir, then the shipped one
    shipped = len(ProfileRegistry.load(DEFAULT_PROFILE_DIR).ids())
    dlt645 = len(Dlt645Profiles.load(DEFAULT_PROFILE_DIR).ids())
    assert result.exit_code == 1
    assert relative(result.output.splitlines(), root) == [
        "firmware_profiles/acme/meter.yaml:5:33 points.v.size: unknown key",
        f"1 problem(s) in {shipped + 1 + dlt645} profile(s) (dlt645 {dlt645}, modbus {shipped + 1})",
    ]


def test_validate_single_file_inside_its_tree(root: Path) -> None:
    write(root, "acme/tilt", "vendor: Acme\nmodel: T\nsource: x\nfirmware: {max: '1'}\npoints: {}\n")
    variant = write(root, "acme/tilt-v2", "extends: acme/tilt\nfirmware: {min: '2'}\nmodel: T\n")
    broken = write(root, "acme/other", "extends: acme/nothing\n")
    ok = runner.invoke(app, ["validate", str(variant)])
    assert (ok.exit_code, ok.output) == (0, "1 profile(s) valid (modbus 1)\n")
    bad = runner.invoke(app, ["validate", str(broken), str(root / "acme" / "missing.yaml")])
    assert bad.exit_code == 1
    assert relative(bad.output.splitlines(), root) == [
        "firmware_profiles/acme/other.yaml:1:1 extends: "
        "unknown base profile 'acme/nothing' (did you mean 'acme/tilt'?)",
        "firmware_profiles/acme/missing.yaml: no such file or directory",
        "2 problem(s) in 1 profile(s) (modbus 1)",
    ]


def test_show_table() -> None:
    result = runner.invoke(app, ["show", "witmotion/wt901c-485", "--firmware", "2.1"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("witmotion/wt901c-485-v2  WitMotion WT901C-485  firmware >= 2  NOT verified")
    assert "extends witmotion/wt901c-485" in out
    row = next(line for line in out.splitlines() if "│ roll " in line)
    for cell in ("holding", "61 (0x003D)", "int16", "AB", "x0.0054931640625", "deg", " r ", "1 s", "0.5"):
        assert cell in row, cell
    assert "|roll| > 10" in out and "critical" in out


def test_show_writable_range_and_order() -> None:
    result = runner.invoke(app, ["show", "waveshare/analog-output-8ch-b"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "│ dim_1 " in line)
    assert "rw" in row and "0..10" in row and "x0.001" in row


def test_show_json() -> None:
    result = runner.invoke(app, ["show", "yosemitech/y532", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["id"] == "yosemitech/y532"
    assert data["points"]["ph"]["address"] == 0x2800 and data["points"]["ph"]["byte_order"] == "little"


def test_show_errors_are_one_line() -> None:
    unknown = runner.invoke(app, ["show", "eastron/sdm12"])
    assert unknown.exit_code == 1
    assert unknown.output.strip().splitlines() == [
        "edgepost profile: error: unknown profile 'eastron/sdm12' (did you mean 'eastron/sdm120'?); "
        f"searched {', '.join(_searched())}"
    ]
    bad_version = runner.invoke(app, ["show", "eastron/sdm120", "--firmware", "new"])
    assert bad_version.exit_code == 1 and "Traceback" not in bad_version.output
    assert "expected a dotted version like 1.2.3, got 'new'" in bad_version.output


def test_show_ambiguous(root: Path) -> None:
    write(root, "acme/t", "vendor: Acme\nmodel: T\nsource: x\nfirmware: {max: '1'}\npoints: {}\n")
    write(root, "acme/t2", "extends: acme/t\nfirmware: {min: '2'}\n")
    result = runner.invoke(app, ["show", "acme/t-x", "--dir", str(root)])
    assert result.exit_code == 1
    result = runner.invoke(app, ["show", "Acme/T", "--dir", str(root)])
    assert result.exit_code == 1
    assert "'Acme/T' is ambiguous: acme/t (firmware <= 1), acme/t2 (firmware >= 2)" in result.output


def test_list() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "keller/series30" in result.output and "witmotion/wt901c-485-v2" in result.output


def test_byte_layout_names() -> None:
    def layout(byte: str, word: str, type_: str = "float32") -> str:
        return byte_layout(
            Point.model_validate(
                {"table": "holding", "address": 0, "type": type_, "byte_order": byte, "word_order": word}
            )
        )

    assert [layout("big", "big"), layout("big", "little"), layout("little", "big"), layout("little", "little")] == [
        "ABCD",
        "CDAB",
        "BADC",
        "DCBA",
    ]
    assert layout("big", "little", "uint64") == "GHEFCDAB"


def test_global_json_flag_through_the_edgepost_command(root: Path) -> None:
    from agent.cli.main import app as edgepost

    write(root, "acme/m", "vendor: Acme\nmodel: M\nsource: x\npoints: {v: {table: input, address: 0, access: w}}\n")
    result = runner.invoke(edgepost, ["--json", "profile", "validate", str(root)])
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "valid": False,
        "checked": 1,
        "by_driver": {"modbus": 1},
        "problems": [
            f"{root}/acme/m.yaml:4:40 points.v.access: the input table is read-only, access must be 'r', got 'w'"
        ],
    }
    listed = runner.invoke(edgepost, ["--json", "profile", "list"])
    assert listed.exit_code == 0, listed.output
    assert "keller/series30" in [entry["id"] for entry in json.loads(listed.output)]
