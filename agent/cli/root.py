"""The root of the ``edgepost`` command: its help, ``--version`` and the global options.

Shared by the full command tree (agent/cli/app.py) and the one ``edgepost run`` builds (agent/cli/main.py),
which leaves out the technician commands: the daemon does not carry their modules in memory.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from agent import __version__
from agent.cli.shared_options import SharedOptionsGroup
from agent.cli.state import state_of


def package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("edgepost")
    except PackageNotFoundError:
        return __version__


def _version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"edgepost {package_version()}\n")
        raise typer.Exit()


EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 failed, 2 usage or invalid config, 3 daemon not running, 4 device did not answer, "
    "5 device/agent refused, 6 not available here, 7 permission denied, "
    "8 write sent but unconfirmed (may have been applied), 130 interrupted."
)


def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="print the version")
    ] = False,
) -> None:
    if ctx.invoked_subcommand != "run":  # the daemon sets up its own logging from the config
        state_of(ctx).use_cli_logging()


def new_app() -> typer.Typer:
    """The root group, without subcommands."""
    app = typer.Typer(
        name="edgepost",
        help="edgepost: street-pole edge agent (daemon and technician tools).",
        epilog=EXIT_CODES_HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        cls=SharedOptionsGroup,  # -c/--config, --socket, --json, -v before or after any subcommand
    )
    app.callback()(_root)
    return app
