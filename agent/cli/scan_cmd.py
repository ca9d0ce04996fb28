"""``edgepost scan``: sweep a serial bus over baud rates, parities and unit ids."""

from __future__ import annotations

import typer

from agent.cli.exit_codes import Unavailable


def scan(ctx: typer.Context) -> None:
    """Find devices on a bus and name them by their profiles' identification."""
    raise Unavailable("scan needs drivers.modbus.identify, which is not installed yet")
