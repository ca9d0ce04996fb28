"""``edgepost run``, ``sync now`` and ``camera snapshot``."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.cli.state import CliState, state_of
from agent.control.client import RemoteError
from agent.control.protocol import SnapshotRequest, SyncNowRequest

sync_app = typer.Typer(help="Uplink synchronisation.", no_args_is_help=True)
camera_app = typer.Typer(help="Cameras.", no_args_is_help=True)


def run(ctx: typer.Context) -> None:
    """Run the daemon in the foreground (what the systemd unit starts)."""
    state = state_of(ctx)
    try:
        from agent.daemon import run_daemon
    except ImportError as exc:
        raise Unavailable(f"the daemon is not installed ({exc})") from None
    code = run_daemon(state.config_path, verbose=state.verbose)
    if code:
        raise typer.Exit(code)


@sync_app.command("now")
def sync_now(ctx: typer.Context) -> None:
    """Wake the uplink: reconnect and drain the outbox right away (needs the daemon)."""
    state = state_of(ctx)
    state.call(SyncNowRequest())
    state.emit({"sync": "requested"}, lambda: state.console.print("sync requested"))


def _from_daemon(state: CliState, camera: str) -> bytes | None:
    """The daemon's latest frame; None when its camera driver cannot hand one out."""
    try:
        result = state.call(SnapshotRequest(camera=camera), timeout_s=30.0)
    except RemoteError as exc:
        if exc.kind == "NotSupported":
            return None  # open a network/file source ourselves; a /dev/video the daemon holds is refused
        raise
    encoded = result.get("jpeg_base64") if isinstance(result, dict) else None
    if not isinstance(encoded, str):
        raise CliError("the daemon returned no image", ExitCode.FAILED)
    return base64.b64decode(encoded)


@camera_app.command("snapshot")
def snapshot(
    ctx: typer.Context,
    camera: Annotated[str, typer.Argument(help="camera name (from the config)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JPEG file")] = None,
) -> None:
    """Save one frame of a camera as a local JPEG (never uploaded)."""
    state = state_of(ctx)
    target = output or Path(f"{camera}.jpg")
    jpeg = _from_daemon(state, camera) if state.daemon_running() else None
    if jpeg is None:
        from agent.cli.local_camera import grab_jpeg

        jpeg = grab_jpeg(state.config(), camera, allow_device=not state.daemon_running())
    target.write_bytes(jpeg)
    state.emit(
        {"camera": camera, "file": str(target), "bytes": len(jpeg)},
        lambda: state.console.print(f"saved {target} ({len(jpeg)} bytes)"),
    )
