"""The Modbus driver's ``edgepost`` commands, registered through the ``edgepost.cli`` entry point.

``register`` adds ``scan`` and ``probe``, ``read``/``write`` with a raw-register mode (point mode is the
agent's, ``agent.cli.point_cmd``), and the ``profile`` and ``simulate`` groups. Modules are imported
when the command line is built, so keep their top-level imports light.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from drivers.modbus.cli import bus_cmd, profile_cmd, scan_cmd, simulate_cmd

    app.command("scan")(scan_cmd.scan)
    app.command("probe")(bus_cmd.probe)
    app.command("read")(bus_cmd.read)
    # unknown options reach the arguments, so a negative value needs no "--" (write lamp dim_1 -1);
    # bus_cmd.write still names any other unknown option as one
    app.command("write", context_settings={"ignore_unknown_options": True})(bus_cmd.write)
    app.add_typer(profile_cmd.app, name="profile")
    app.add_typer(simulate_cmd.app, name="simulate")
