"""``edgepost config validate|show``."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer
from ruamel.yaml import YAML

from agent.cli.exit_codes import ExitCode
from agent.cli.redact import redacted_config
from agent.cli.state import load_config_quietly, state_of
from agent.control.protocol import ReloadRequest
from agent.errors import ConfigError

app = typer.Typer(help="Check or show the config.", no_args_is_help=True)


@app.command()
def validate(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="config file (default: the global --config)")] = None,
) -> None:
    """Validate a config file: one 'file:line:col path: message' line per problem; exit 2 if invalid."""
    state = state_of(ctx)
    path = file or state.config_path
    try:
        config = load_config_quietly(path)
    except ConfigError as exc:
        problems = list(exc.problems)
        state.emit({"file": str(path), "valid": False, "problems": list(problems)}, lambda: _print(problems))
        raise typer.Exit(ExitCode.USAGE) from None
    summary = f"{path}: valid ({len(config.drivers)} driver(s), gateway {config.gateway.id})"
    state.emit({"file": str(path), "valid": True, "problems": []}, lambda: _print([summary]))


@app.command()
def show(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="config file (default: the global --config)")] = None,
) -> None:
    """Print the effective config (defaults filled in, secrets redacted) as YAML."""
    state = state_of(ctx)
    data = redacted_config(load_config_quietly(file) if file is not None else state.config())

    def render() -> None:
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        out = io.StringIO()
        yaml.dump(data, out)
        sys.stdout.write(out.getvalue())

    state.emit(data, render)


@app.command()
def reload(ctx: typer.Context) -> None:
    """Ask the running daemon to re-read its config; a refused one prints its problems (exit 2)."""
    state = state_of(ctx)
    socket = state.daemon_socket()
    result = state.call(ReloadRequest(), timeout_s=60.0)
    answer = dict(result) if isinstance(result, dict) else {}
    problems = answer.get("problems")
    lines = [str(p) for p in problems] if isinstance(problems, list) else []
    answer["socket"] = str(socket)
    daemon_config = answer.get("config")
    done = f"config reloaded by the daemon on {socket}" + (f" (it re-read {daemon_config})" if daemon_config else "")
    state.emit(answer, lambda: _print(lines or [done]))
    if lines:
        raise typer.Exit(ExitCode.USAGE)


def _print(lines: list[str]) -> None:
    for line in lines:
        sys.stdout.write(line + "\n")

