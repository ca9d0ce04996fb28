"""What every CLI command shares: the global options, the config, the daemon link and output."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import typer

from agent.config import DEFAULT_CONFIG_PATH, AgentConfigBase, ControlConfig, load_config
from agent.control.client import ControlClient, daemon_listening
from agent.control.protocol import Request
from agent.errors import ConfigError
from agent.logs import setup_logging
from agent.records import JsonValue

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


@dataclass
class CliState:
    config_path: Path = DEFAULT_CONFIG_PATH
    socket: Path | None = None
    json: bool = False
    verbose: bool = False
    _config: AgentConfigBase | None = None
    _noted_default: bool = False
    _cli_logging: bool = False
    _console: Console | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        """The terminal output (created on first use: ``edgepost run`` never needs rich)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False)
        return self._console

    def use_cli_logging(self) -> None:
        """Technician commands log to stderr at warning level (details with -v); ``run`` does not call
        this: the daemon sets up its own logging from the config."""
        self._cli_logging = True
        setup_cli_logging(self.verbose)

    def set_verbose(self) -> None:
        """``-v`` seen (it may come after the subcommand, when logging is already set up)."""
        self.verbose = True
        if self._cli_logging:
            setup_cli_logging(True)

    def config(self) -> AgentConfigBase:
        """The validated config (loaded once). Raises ``ConfigError`` (exit code 2)."""
        if self._config is None:
            self._config = load_config_quietly(self.config_path)
        return self._config

    def socket_path(self) -> Path:
        """The control socket of the daemon this command means: ``--socket``, else the config's.

        A config that exists but is invalid, or a ``--config`` that does not exist, is refused
        (``ConfigError``, exit 2): the default socket may belong to another daemon, and talking to
        it would reload or query the wrong one. Only with no ``--config`` and no file at the default
        path (a technician's laptop) is the default socket used; ``daemon_socket`` then names it.
        """
        if self.socket is not None:
            return self.socket
        if self._no_config():
            return ControlConfig().socket
        try:
            return self.config().control.socket
        except ConfigError as exc:
            raise ConfigError(
                [*exc.problems, f"no daemon contacted: the control socket is unknown while {self.config_path} "
                 "is invalid (fix it, or name the daemon with --socket)"]
            ) from None

    def _no_config(self) -> bool:
        return self.config_path == DEFAULT_CONFIG_PATH and not self.config_path.exists()

    def daemon_socket(self) -> Path:
        """``socket_path`` for a request about to be sent: a default chosen for want of a config is named."""
        path = self.socket_path()
        if self.socket is None and self._no_config() and not self._noted_default:
            sys.stderr.write(f"edgepost: note: no config at {self.config_path}; using control socket {path}\n")
            self._noted_default = True
        return path

    def control_group(self) -> str | None:
        """The group the daemon gives its socket (the config's ``control.group``), for a permission hint."""
        if self._no_config():
            return ControlConfig().group
        try:
            return self.config().control.group
        except ConfigError:
            return None

    def daemon_running(self) -> bool:
        return daemon_listening(self.socket_path())

    def call(self, request: Request, timeout_s: float = 30.0) -> JsonValue:
        """One request to the running daemon (raises DaemonNotRunning when there is none)."""

        async def _call() -> JsonValue:
            async with ControlClient(self.daemon_socket(), timeout_s, self.control_group()) as client:
                return await client.call(request)

        return run(_call())

    def emit(self, data: JsonValue, render: Callable[[], None]) -> None:
        """``--json``: the data as one JSON document on stdout; otherwise the human rendering."""
        if self.json:
            sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
        else:
            render()


def setup_cli_logging(verbose: bool) -> None:
    """Warnings only, and nothing from the libraries below critical (pymodbus reports every silent unit
    of a scan as an error); with -v everything, bus frames included."""
    setup_logging("debug" if verbose else "warning", frames=verbose, quiet_libraries=not verbose)


def load_config_quietly(path: Path) -> AgentConfigBase:
    """``load_config`` with a missing driver package turned into a config problem, not a traceback."""
    try:
        return load_config(path)
    except ImportError as exc:
        raise ConfigError([f"{path}: a driver's config model cannot be imported ({exc})"]) from None


def state_of(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
