"""The ``edgepost`` command: one typer app, every error one line, exit codes in ``exit_codes.py``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from agent import __version__
from agent.cli import buffer_cmd, config_cmd, diagnose_cmd, learned_cmd, misc_cmd, point_cmd, status_cmd
from agent.cli.exit_codes import ExitCode, exit_code_for
from agent.cli.shared_options import SharedOptionsGroup
from agent.cli.state import state_of
from agent.errors import EdgepostError


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

app = typer.Typer(
    name="edgepost",
    help="edgepost: street-pole edge agent (daemon and technician tools).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=SharedOptionsGroup,  # -c/--config, --socket, --json, -v before or after any subcommand
)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="print the version")
    ] = False,
) -> None:
    if ctx.invoked_subcommand != "run":  # the daemon sets up its own logging from the config
        state_of(ctx).use_cli_logging()


app.command("run")(misc_cmd.run)
app.command("status")(status_cmd.status)
app.command("watch")(status_cmd.watch)
app.command("read")(point_cmd.read)
app.command("write")(point_cmd.write)
app.command("diagnose")(diagnose_cmd.diagnose)
app.add_typer(buffer_cmd.app, name="buffer")
app.add_typer(misc_cmd.sync_app, name="sync")
app.add_typer(misc_cmd.camera_app, name="camera")
app.add_typer(config_cmd.app, name="config")
app.add_typer(learned_cmd.app, name="learned")


def _mount_entry_point_apps() -> None:
    """Commands registered by drivers and other packages under the ``edgepost.cli`` entry-point group.

    An entry point names a ``typer.Typer`` (mounted as ``edgepost <entry name> ...``) or a function
    ``register(app)`` that adds commands to the root app; a command it adds under a name the agent
    already has (``read``, ``write``) replaces the agent's one, which it may call for what it does not
    add itself. Entry points load in name order, so the command line does not depend on install order.
    """
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="edgepost.cli"), key=lambda e: e.name):
        try:
            target = entry.load()
        except ImportError:
            continue  # its package (or one of its extras) is not installed: the command is not offered
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=entry.name)
        elif callable(target):
            _register(target)


def _register(register: Callable[[typer.Typer], object]) -> None:
    register(app)
    names = [info.name or getattr(info.callback, "__name__", "") for info in app.registered_commands]
    latest = {name: index for index, name in enumerate(names)}
    kept = [info for index, info in enumerate(app.registered_commands) if latest[names[index]] == index]
    app.registered_commands[:] = kept


_mount_entry_point_apps()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point. Returns the exit code (and exits with it when run as a script)."""
    command = typer.main.get_command(app)
    try:
        args = sys.argv[1:] if argv is None else argv
        result = command.main(args=args, prog_name="edgepost", standalone_mode=False)
        code = int(result) if isinstance(result, int) else ExitCode.OK
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        _error("aborted")
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # usage errors: bad option, missing argument, unknown command
        usage_ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and usage_ctx is not None:
            sys.stdout.write(usage_ctx.get_help() + "\n")
        else:
            hint = f" (see '{usage_ctx.command_path} --help')" if usage_ctx is not None else ""
            _error(exc.format_message() + hint)
        code = ExitCode.USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        code = ExitCode.INTERRUPTED
    except (EdgepostError, OSError) as exc:
        _error(_one_line(exc))
        code = exit_code_for(exc)
    return code


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror}"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def _error(message: str) -> None:
    sys.stderr.write(f"edgepost: error: {message}\n")


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console_main()
