"""Which control socket the CLI uses: named, from a valid config, the default only without any config."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli.state import CliState
from agent.config import DEFAULT_CONFIG_PATH, ControlConfig
from agent.errors import ConfigError


def write_config(path: Path, socket: Path, extra: str = "") -> Path:
    path.write_text(f"gateway: {{id: gw}}\nstate_dir: {path.parent}\ncontrol: {{socket: {socket}}}\n{extra}")
    return path


def test_named_socket_wins_even_over_a_broken_config(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "from-config.sock", "bogus: 1\n")
    assert CliState(config_path=config, socket=tmp_path / "named.sock").socket_path() == tmp_path / "named.sock"


def test_valid_config_gives_its_socket(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "mine.sock")
    assert CliState(config_path=config).socket_path() == tmp_path / "mine.sock"


def test_invalid_config_is_refused_not_guessed(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "mine.sock", "bogus: 1\n")
    with pytest.raises(ConfigError) as refused:
        CliState(config_path=config).socket_path()
    assert "bogus: unknown key" in str(refused.value) and "--socket" in str(refused.value)


def test_missing_named_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        CliState(config_path=tmp_path / "absent.yaml").socket_path()
    assert "absent.yaml" in str(refused.value)


def test_no_config_at_the_default_path_uses_the_default_socket_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if DEFAULT_CONFIG_PATH.exists():
        pytest.skip(f"{DEFAULT_CONFIG_PATH} exists on this machine")
    state = CliState()
    assert state.socket_path() == ControlConfig().socket
    assert capsys.readouterr().err == ""  # a probe for a running daemon says nothing
    assert state.daemon_socket() == ControlConfig().socket
    assert state.daemon_socket() == ControlConfig().socket
    err = capsys.readouterr().err
    assert err.count(f"using control socket {ControlConfig().socket}") == 1
