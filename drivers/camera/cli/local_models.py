"""``edgepost model update``: through the running daemon, or installed by the CLI itself.

Through the daemon (``ModelUpdateRequest``), every driver running the model installs, self-tests and
swaps it, exactly as for the ``update_model`` downlink command, and its ``model_updated`` event goes
upstream. Without a daemon, or when none of its drivers runs the model, the CLI installs it where the
config's drivers load it from (a driver config tells that with ``model_users(name)``). A failure is
printed once, naming the user's own files.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from agent.cli.exit_codes import CliError, ExitCode
from agent.cli.state import CliState
from agent.commands.model_update import MODEL_UPDATE_TIMEOUT_S
from agent.config import agent_config_model
from agent.control.client import RemoteError
from agent.control.protocol import ModelUpdateRequest
from agent.errors import ConfigError
from agent.records import JsonValue
from agent.yamlsource import load_yaml_file, validation_problems

_UPDATE_LOGGER = "drivers.camera.inference.update"  # its failure line would repeat the error printed here
NOT_ON_THE_BOX = "no such file on the box"  # the update_model command's answer for a path the daemon cannot see


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        sys.stderr.write(f"error: {line}\n")
    return typer.Exit(int(ExitCode.FAILED))


def model_users(config_path: Path, name: str) -> tuple[list[str], Path | None]:
    """The configured devices running model ``name`` and the models dir they load it from.

    The config is read without checking that its models exist: installing a model a camera already
    names is the way out of a config that names a model not installed yet. No config file: nobody.
    """
    if not config_path.exists():
        return [], None
    try:
        doc = load_yaml_file(config_path)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    try:
        config = agent_config_model().model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc)) from None
    users: list[str] = []
    dirs: set[Path | None] = set()
    for entry in config.drivers:
        lookup = getattr(entry, "model_users", None)
        if not callable(lookup):
            continue
        try:
            devices, models_dir = lookup(name)
        except ValueError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
        if devices:
            users += devices
            dirs.add(models_dir)
    if len(dirs) > 1:
        raise CliError(f"{config_path}: drivers running {name!r} load it from different models dirs", ExitCode.USAGE)
    return users, dirs.pop() if dirs else None


def explain(name: str, message: str) -> list[str]:
    """The daemon's answer to a failed update, as error lines; a file it cannot see gets the reason why."""
    if NOT_ON_THE_BOX not in message:
        return message.splitlines()
    path = message.rsplit(": ", 1)[-1]
    return [
        f"model_update_failed {name}: the running daemon cannot see {path} (the service runs as user edgepost "
        "with its own /tmp and no /home): copy the model and its manifest where it can read them, e.g. under "
        "/opt, and name them from there"
    ]


def update_through_daemon(state: CliState, name: str, file: Path, manifest: Path, models_dir: Path | None) -> bool:
    """True when the running daemon took the update (and the result is printed); False when none of its
    drivers runs ``name``, so the CLI installs it itself."""
    from drivers.camera.inference.store import update_dir  # where updates go by default (pydantic-light)

    if models_dir is not None:
        users, configured = model_users(state.config_path, name)
        if users and models_dir.resolve() != update_dir(configured).resolve():
            raise CliError(
                f"the running daemon installs {name!r} where {', '.join(users)} load it from "
                f"({update_dir(configured)}), not in --models-dir {models_dir}: leave --models-dir out",
                ExitCode.USAGE,
            )
    request = ModelUpdateRequest(model=name, file=str(file), manifest=str(manifest))
    try:
        result = state.call(request, timeout_s=MODEL_UPDATE_TIMEOUT_S + 30.0)
    except RemoteError as exc:
        if exc.kind == "NotSupported":
            return False  # no running camera uses it: a plain install
        if exc.kind == "BadRequest":  # a daemon older than this CLI
            sys.stderr.write("note: the running daemon does not take model updates; installing here, "
                             "restart it to use the new version\n")
            return False
        if exc.kind == "CommandError":
            raise _fail(explain(name, str(exc))) from None
        raise
    answer: dict[str, Any] = result if isinstance(result, dict) else {}
    cameras = ", ".join(str(c) for c in answer.get("cameras") or []) or "none"
    drivers = ", ".join(str(d) for d in answer.get("drivers") or [])
    def render() -> None:
        sys.stdout.write(
            f"model_updated {name} sha256 {answer.get('sha256')} through the running daemon: now on cameras "
            f"{cameras} (driver {drivers}), {answer.get('sessions')} session(s) swapped\n"
        )

    state.emit({**answer, "through": "daemon"}, render)
    return True


def install_locally(state: CliState, name: str, file: Path, manifest: Path, models_dir: Path | None) -> None:
    """No daemon runs the model: verify, self-test and install it where the config's cameras load it from."""
    from drivers.camera.inference.update import ModelUpdated, update_model

    users, configured = model_users(state.config_path, name)
    target = models_dir if models_dir is not None else configured
    logger = logging.getLogger(_UPDATE_LOGGER)
    if not logger.isEnabledFor(logging.DEBUG):  # -v keeps it
        logger.setLevel(logging.ERROR)
    result = asyncio.run(update_model(name, file, manifest, models_dir=target))
    if not isinstance(result, ModelUpdated):
        raise _fail([f"model_update_failed {name}: {line}" for line in result.reason.splitlines()])
    later = f"; camera(s) {', '.join(users)} use it from the daemon's next start" if users else ""
    data: dict[str, JsonValue] = {
        "model": name, "sha256": result.sha256, "path": str(result.path), "cameras": list(users), "through": "cli",
    }
    def render() -> None:
        sys.stdout.write(f"model_updated {name} sha256 {data['sha256']} at {data['path']}{later}\n")

    state.emit(data, render)
