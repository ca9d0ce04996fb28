"""``edgepost learned forget DEVICE``: drop what a driver learned about a device while polling it.

A device that refused registers while it booted stays half-read until a re-probe finds them again;
a technician who knows the device is fine now forgets that at once. Through the daemon when it runs
(the device is probed afresh right away), else in the state dir (the next start begins clean).
Driver-neutral: the driver decides what "learned" means for its devices.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from agent.cli.exit_codes import Unavailable
from agent.cli.state import CliState, run, state_of
from agent.control.protocol import ForgetLearnedRequest
from agent.errors import ConfigError
from agent.records import JsonValue

app = typer.Typer(help="What drivers learned about their devices (e.g. registers a device refused).",
                  no_args_is_help=True)


@app.command()
def forget(
    ctx: typer.Context,
    device: Annotated[str, typer.Argument(help="device name from the config")],
) -> None:
    """Forget what was learned about DEVICE (refused register ranges, unreadable points), so it is probed afresh."""
    state = state_of(ctx)
    if state.daemon_running():
        result = state.call(ForgetLearnedRequest(device=device))
        where = "in the running daemon"
    else:
        result = run(_forget_saved(state, device))
        where = "in the state dir (the daemon is not running)"
    state.emit(result, lambda: state.console.print(_summary(device, result, where)))


async def _forget_saved(state: CliState, device: str) -> JsonValue:
    driver = _driver_serving(state, device)
    forgotten: JsonValue = await driver.forget_learned(device)
    return forgotten


def _driver_serving(state: CliState, device: str) -> Any:
    """The configured driver that serves ``device``, built but not opened (no port is touched)."""
    try:
        from drivers.base import DriverContext
        from drivers.registry import load_driver_class
    except ImportError as exc:
        raise Unavailable(f"driver support is not installed ({exc})") from None
    config = state.config()
    for entry in config.drivers:
        kind = str(getattr(entry, "driver", ""))
        try:
            cls = load_driver_class(kind)
        except ImportError as exc:
            raise Unavailable(f"driver {kind} cannot be imported ({exc})") from None
        context = DriverContext(
            gateway_id=config.gateway.id,
            state_dir=config.state_dir,
            config_dir=state.config_path.parent,
            logger=logging.getLogger(f"edgepost.cli.{entry.name}"),
        )
        driver = cls(entry, context)
        if any(info.name == device for info in driver.inventory()):
            return driver
    raise ConfigError([f"no device named {device!r} in {state.config_path}"])


def _summary(device: str, result: JsonValue, where: str) -> str:
    if not isinstance(result, dict):
        return f"{device}: forgotten {where}"
    parts = [f"{result.get('ranges', 0)} learned range(s)"]
    unreadable = result.get("unreadable")
    if isinstance(unreadable, list) and unreadable:
        parts.append(f"unreadable points {', '.join(map(str, unreadable))}")
    if result.get("limits_restored"):
        parts.append("a lowered read limit")
    return f"{device}: forgot {'; '.join(parts)} {where}"
