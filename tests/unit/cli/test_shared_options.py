"""Every command of the tree takes the global options, declared once (agent/cli/shared_options.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from agent.cli.main import app, main

GLOBAL = {"--config", "-c", "--socket", "--json", "--verbose", "-v"}


def commands(command: object, path: str = "edgepost") -> Iterator[tuple[str, object]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from commands(sub, f"{path} {name}")


def test_every_command_and_group_accepts_the_global_options() -> None:
    tree = list(commands(typer.main.get_command(app)))
    assert len(tree) > 30  # the walk really went down the groups
    for path, command in tree:
        names = {name for param in command.params for name in param.opts}  # type: ignore[attr-defined]
        assert names >= GLOBAL, (path, GLOBAL - names)


def test_a_command_that_declares_json_itself_keeps_its_own() -> None:
    show = typer.main.get_command(app).commands["profile"].commands["show"]  # type: ignore[attr-defined]
    assert [name for param in show.params for name in param.opts].count("--json") == 1


def test_the_last_config_on_the_line_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, env = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "env.yaml"
    for path in (first, second, env):
        path.write_text(f"gateway: {{id: {path.stem}}}\n")
    monkeypatch.setenv("EDGEPOST_CONFIG", str(env))
    assert main(["config", "show", "--json"]) == 0
    assert '"id": "env"' in capsys.readouterr().out  # the environment, when nothing is given
    assert main(["-c", str(first), "config", "show", "-c", str(second), "--json"]) == 0
    assert '"id": "b"' in capsys.readouterr().out
    assert main(["-c", str(first), "config", "--json", "show"]) == 0
    assert '"id": "a"' in capsys.readouterr().out  # given before, not overwritten by the environment after
