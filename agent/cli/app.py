"""The full ``edgepost`` command tree: every subcommand and the ones packages register (``edgepost.cli``).

``agent.cli.main`` builds it for every command but ``run`` (agent/cli/root.py has the root both share).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from agent.cli import buffer_cmd, config_cmd, diagnose_cmd, learned_cmd, misc_cmd, point_cmd, status_cmd
from agent.cli.root import new_app

app = new_app()
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
