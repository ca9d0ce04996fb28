"""The edgepost command in-process: exit codes, one-line errors, --json, daemon-backed commands."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from agent.cli.exit_codes import ExitCode
from agent.cli.main import main
from tests.unit.cli.fake_runtime import FakeRuntime, daemon_in_thread

GOOD = "gateway: {id: pole-7, site: main-street}\nuplink: {password: hunter2, username: pole}\n"
BAD = "gateway: {id: pole-7}\nuplink:\n  port: 99999\nbogus: 1\n"


@pytest.fixture
def good_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    return path


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[FakeRuntime, Path]]:
    runtime = FakeRuntime()
    path = tmp_path / "control.sock"
    with daemon_in_thread(runtime, path):
        yield runtime, path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("edgepost ")


def test_config_validate_ok(good_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(good_config)]) == ExitCode.OK
    assert capsys.readouterr().out == f"{good_config}: valid (0 driver(s), gateway pole-7)\n"


def test_config_validate_prints_each_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    assert main(["config", "validate", str(path)]) == ExitCode.USAGE
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:3:3 uplink.port: Input should be less than or equal to 65535, got 99999",
        f"{path}:4:1 bogus: unknown key",
    ]


def test_config_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    assert main(["--json", "config", "validate", str(path)]) == ExitCode.USAGE
    data = orjson.loads(capsys.readouterr().out)
    assert data["valid"] is False and len(data["problems"]) == 2


def test_config_validate_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("gateway: {id: x\n")
    assert main(["config", "validate", str(path)]) == ExitCode.USAGE
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:") and len(out.splitlines()) == 1


def test_config_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(tmp_path / "absent.yaml")]) == ExitCode.USAGE
    assert "cannot read" in capsys.readouterr().out


def test_config_show_redacts_secrets(good_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(good_config), "--json", "config", "show"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["uplink"]["password"] != "hunter2" and "hunter2" not in orjson.dumps(shown).decode()
    assert shown["uplink"]["username"] == "pole"
    assert shown["gateway"] == {"id": "pole-7", "site": "main-street"}
    assert shown["outbox"]["durability"] == "power-safe"  # defaults filled in
    assert main(["-c", str(good_config), "config", "show"]) == 0
    text = capsys.readouterr().out
    assert "hunter2" not in text and "id: pole-7" in text


def test_usage_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("edgepost: error: ") and len(err.splitlines()) == 1


def test_status_without_daemon_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--socket", str(tmp_path / "none.sock"), "status"]) == ExitCode.NO_DAEMON
    err = capsys.readouterr().err
    assert "not running" in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_status_json_from_daemon(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "--json", "status"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["status"]["uplink"]["state"] == "connected"
    assert data["outbox"]["records"] == 12


def test_status_tables_from_daemon(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "status"]) == 0
    out = capsys.readouterr().out
    assert "bus1" in out and "connected" in out and "outbox: 12 records" in out


def test_read_point_via_daemon(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "read", "meter1", "voltage"]) == 0
    assert capsys.readouterr().out.strip() == "meter1.voltage = 230.5 V"
    assert main(["--socket", str(sock), "--json", "read", "meter1", "voltage"]) == 0
    assert orjson.loads(capsys.readouterr().out)["value"] == 230.5


def test_device_timeout_exits_4(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "read", "silent", "x"]) == ExitCode.NO_ANSWER
    assert capsys.readouterr().err.strip() == "edgepost: error: silent: no response"


def test_rejected_write_exits_5(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    runtime, sock = daemon
    assert main(["--socket", str(sock), "write", "meter1", "voltage", "1"]) == ExitCode.REFUSED
    assert "read-only" in capsys.readouterr().err
    assert main(["--socket", str(sock), "write", "meter1", "mode", "0x10"]) == 0
    assert runtime.driver.points[("meter1", "mode")] == 16


def test_raw_read_and_write_use_the_daemon_bus(
    daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    runtime, sock = daemon
    base = ["--socket", str(sock)]
    assert main([*base, "write", "--bus", "bus1", "--unit", "2", "--address", "5", "11", "12"]) == 0
    assert runtime.driver.registers[("bus1", 2, "holding", 6)] == 12
    capsys.readouterr()
    assert main([*base, "--json", "read", "--bus", "bus1", "--unit", "2", "--address", "4", "--count", "3"]) == 0
    assert orjson.loads(capsys.readouterr().out)["values"] == [4, 11, 12]
    assert main([*base, "read", "--bus", "bus1", "--unit", "99", "--address", "0"]) == ExitCode.NO_ANSWER


def test_raw_read_without_unit_is_usage_error(daemon: tuple[FakeRuntime, Path]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "read", "--bus", "bus1", "--address", "0"]) == ExitCode.USAGE


def test_probe_via_daemon(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "--json", "probe", "--bus", "bus1", "--unit", "1"]) == 0
    assert orjson.loads(capsys.readouterr().out)["matches"][0]["profile"] == "eastron/sdm120"
    assert main(["--socket", str(sock), "probe", "--bus", "bus1", "--unit", "5"]) == ExitCode.NO_ANSWER


def test_watch_json_lines(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "--json", "watch"]) == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["device"] for line in lines] == ["meter1", "meter1", "other"]
    assert main(["--socket", str(sock), "watch", "--count", "1"]) == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_sync_and_purge(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    runtime, sock = daemon
    assert main(["--socket", str(sock), "sync", "now"]) == 0
    assert runtime.synced == 1
    assert capsys.readouterr().out == "sync requested\n"
    assert main(["--socket", str(sock), "--json", "buffer", "purge", "--device", "meter1", "--yes"]) == 0
    assert orjson.loads(capsys.readouterr().out) == {"purged": 7}
    assert runtime.purged == [("meter1", None)]
    assert main(["--socket", str(sock), "buffer", "stats"]) == 0


def test_purge_asks_first(
    daemon: tuple[FakeRuntime, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime, sock = daemon
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(["--socket", str(sock), "buffer", "purge"]) == ExitCode.FAILED
    assert runtime.purged == []
    assert "cancelled" in capsys.readouterr().err


def test_diagnose_bundle_is_redacted(
    tmp_path: Path, good_config: Path, daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, sock = daemon
    bundle = tmp_path / "bundle.tar.gz"
    assert main(["-c", str(good_config), "--socket", str(sock), "diagnose", "-o", str(bundle)]) == 0
    with tarfile.open(bundle) as tar:
        names = {Path(n).name for n in tar.getnames()}
        contents = b"".join(tar.extractfile(m).read() for m in tar.getmembers())  # type: ignore[union-attr]
    assert {"versions.json", "config.json", "status.json", "outbox-stats.json", "serial-ports.json"} <= names
    assert "journal.txt" in names or "errors.txt" in names
    assert b"hunter2" not in contents and b"pole-7" in contents and b"connected" in contents


def test_json_flag_after_the_command(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, sock = daemon
    assert main(["--socket", str(sock), "status", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["outbox"]["records"] == 12


def test_config_reload(daemon: tuple[FakeRuntime, Path], capsys: pytest.CaptureFixture[str]) -> None:
    runtime, sock = daemon
    assert main(["--socket", str(sock), "config", "reload"]) == 0
    assert capsys.readouterr().out == f"config reloaded by the daemon on {sock} (it re-read {runtime.config_path})\n"
    runtime.reload_problems = ["/etc/edgepost/config.yaml:4:1 bogus: unknown key"]
    assert main(["--socket", str(sock), "config", "reload"]) == ExitCode.USAGE
    assert capsys.readouterr().out == "/etc/edgepost/config.yaml:4:1 bogus: unknown key\n"


def test_run_with_an_invalid_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    assert main(["-c", str(path), "run"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert f"{path}:4:1 bogus: unknown key" in err and "Traceback" not in err
