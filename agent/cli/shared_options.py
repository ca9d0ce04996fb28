"""The global options: ``-c/--config``, ``--socket``, ``--json`` and ``-v``, before or after any subcommand.

They are declared once (``_declared``) and attached to the root group and to every group and command
below it when the click tree is built (``SharedOptionsGroup``), so ``edgepost run -c site.yaml`` and
``edgepost -c site.yaml run`` mean the same and no command re-declares them. Each occurrence writes
into the one ``CliState``; the last one on the command line wins. A command that declares one of
these names itself (``profile show --json``) keeps its own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from agent.cli.state import CliState, state_of
from agent.config import DEFAULT_CONFIG_PATH

PANEL = "Global options (before or after the subcommand)"


def _declared(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", envvar="EDGEPOST_CONFIG", help=f"config file (default: {DEFAULT_CONFIG_PATH})",
                     rich_help_panel=PANEL),
    ] = None,
    socket: Annotated[
        Path | None,
        typer.Option("--socket", envvar="EDGEPOST_SOCKET", help="control socket (default: from the config)",
                     rich_help_panel=PANEL),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="machine-readable JSON on stdout", rich_help_panel=PANEL)
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="details on stderr (on 'run': Modbus frames)", rich_help_panel=PANEL),
    ] = False,
) -> None:
    """Only its signature is used: typer turns it into the options, with typer's help rendering."""


def _set_config(state: CliState, value: Any) -> None:
    state.config_path = Path(value)


def _set_socket(state: CliState, value: Any) -> None:
    state.socket = Path(value)


def _set_json(state: CliState, value: Any) -> None:
    state.json = True


def _set_verbose(state: CliState, value: Any) -> None:
    state.set_verbose()


_SETTERS: dict[str, Callable[[CliState, Any], None]] = {
    "config": _set_config,
    "socket": _set_socket,
    "json_output": _set_json,
    "verbose": _set_verbose,
}


def _store(setter: Callable[[CliState, Any], None]) -> Callable[[Any, Any, Any], None]:
    def callback(ctx: Any, param: Any, value: Any) -> None:  # typer's vendored click Context and Parameter
        if value is None or value is False:  # not given here: what an outer level said stands
            return
        setter(state_of(ctx), value)

    return callback


@cache
def _templates() -> tuple[TyperOption, ...]:
    app = typer.Typer(add_completion=False)
    app.command()(_declared)
    return tuple(p for p in typer.main.get_command(app).params if isinstance(p, TyperOption))


def shared_options(root: bool) -> list[TyperOption]:
    """Fresh copies of the four options; only the root's read the environment (a subcommand's would
    otherwise overwrite a value given before the subcommand with the environment's)."""
    options: list[TyperOption] = []
    for template in _templates():
        option = copy.copy(template)
        assert option.name is not None
        option.expose_value = False
        option.callback = _store(_SETTERS[option.name])
        if not root:
            option.envvar = None
        options.append(option)
    return options


def attach(command: TyperCommand | TyperGroup, root: bool = False) -> None:
    """Add the shared options to ``command`` and, for a group, to every command below it."""
    taken = {name for param in command.params for name in [*param.opts, *param.secondary_opts]}
    for option in shared_options(root):
        if not taken & {*option.opts, *option.secondary_opts}:
            command.params.append(option)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            if isinstance(sub, TyperCommand | TyperGroup):
                attach(sub)


class SharedOptionsGroup(TyperGroup):
    """The root group: once typer has built the whole tree, every command in it gets the options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        attach(self, root=True)
