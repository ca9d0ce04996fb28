"""The ``edgepost`` command: one typer app, every error one line, exit codes in ``exit_codes.py``.

``edgepost run`` gets a tree with only ``run`` in it: importing every technician command and the ones
packages register (a simulator, profile tools) would cost the daemon megabytes of memory for its lifetime.
"""

from __future__ import annotations

import sys

import typer

from agent.cli.exit_codes import ExitCode, exit_code_for
from agent.cli.root import EXIT_CODES_HELP, new_app
from agent.errors import EdgepostError

__all__ = ["EXIT_CODES_HELP", "console_main", "main"]  # and `app`, the full tree (module __getattr__)

_VALUED_OPTIONS = frozenset({"-c", "--config", "--socket"})  # the global options that take a value


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the full tree, built on first use
        from agent.cli.app import app

        return app
    raise AttributeError(name)


def subcommand_of(args: list[str]) -> str | None:
    """The first word of ``args`` that is not a global option or its value (``-c x run`` -> ``run``)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            return None
        elif arg in _VALUED_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _daemon_app() -> typer.Typer:
    from agent.cli.misc_cmd import run

    app = new_app()
    app.command("run")(run)
    return app


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point. Returns the exit code (and exits with it when run as a script)."""
    args = sys.argv[1:] if argv is None else argv
    if subcommand_of(args) == "run":
        app = _daemon_app()
    else:
        from agent.cli.app import app
    command = typer.main.get_command(app)
    try:
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
