"""``edgepost diagnose``: one tar.gz a technician can mail, with every secret redacted.

Each part is collected on its own; a part that fails becomes a line in ``errors.txt`` instead of
stopping the bundle (a broken box is exactly when the bundle is needed).
"""

from __future__ import annotations

import errno
import io
import platform
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated

import orjson
import typer

from agent.cli.redact import redact, redact_url, redacted_config
from agent.cli.state import CliState, state_of
from agent.control.protocol import BufferStatsRequest, StatusRequest
from agent.errors import ConfigError, EdgepostError
from agent.log_setup import recent_log_path
from agent.records import JsonValue

PACKAGES = ("edgepost", "pymodbus", "pyserial", "pydantic", "aiomqtt", "paho-mqtt", "onnxruntime",
            "opencv-python-headless", "numpy", "typer", "rich", "orjson", "prometheus_client")
JOURNAL_LINES = 500
RECENT_LOG_LINES = 2000


def versions() -> JsonValue:
    packages: dict[str, JsonValue] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": sys.version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "packages": packages,
        "collected_at": datetime.now(UTC).isoformat(),
    }


def serial_ports() -> JsonValue:
    from serial.tools import list_ports

    ports: list[JsonValue] = [
        {"device": p.device, "description": p.description, "hwid": p.hwid} for p in list_ports.comports()
    ]
    by_id = Path("/dev/serial/by-id")
    links = {p.name: str(p.resolve()) for p in by_id.iterdir()} if by_id.is_dir() else {}
    return {"ports": ports, "by_id": dict(links)}


def journal(lines: int = JOURNAL_LINES) -> str:
    if shutil.which("journalctl") is None:
        return "journalctl not available on this system\n"
    done = subprocess.run(
        ["journalctl", "-u", "edgepost", "-n", str(lines), "--no-pager", "-o", "short-iso"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    return done.stdout + (f"\n[journalctl exit {done.returncode}] {done.stderr}" if done.returncode else "")


def recent_log(state: CliState, lines: int = RECENT_LOG_LINES) -> str:
    """The daemon's own recent lines (``agent.log_setup``), kept when it does not run under journald."""
    path = recent_log_path(state.config().state_dir)
    files = [f for f in (path.with_name(path.name + ".1"), path) if f.is_file()]
    if not files:
        raise FileNotFoundError(errno.ENOENT, "no recent log (a daemon under journald keeps none: see journal.txt)",
                                str(path))
    tail: deque[str] = deque(maxlen=lines)
    for file in files:  # oldest first
        with file.open(encoding="utf-8", errors="replace") as text:
            tail.extend(text)
    return "".join(tail)


def _daemon_part(state: CliState, request: StatusRequest | BufferStatsRequest) -> JsonValue:
    if not state.daemon_running():
        return {"daemon": "not running"}
    return redact(state.call(request, timeout_s=10.0))


def _outbox_offline(state: CliState) -> JsonValue:
    if state.daemon_running():
        return _daemon_part(state, BufferStatsRequest())
    from agent.cli.outbox_read import read_stats
    from agent.control.handlers import to_json

    config = state.config()
    return to_json(read_stats(config.state_dir, config.outbox))  # read-only: nothing created


def collect(state: CliState) -> tuple[dict[str, bytes], list[str]]:
    """Every part of the bundle as file name -> bytes, plus the parts that failed."""
    parts: dict[str, bytes] = {}
    errors: list[str] = []

    def as_json(value: JsonValue) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str) + b"\n"

    steps: dict[str, Callable[[], bytes]] = {
        "versions.json": lambda: as_json(versions()),
        "config.json": lambda: as_json(redacted_config(state.config())),
        "status.json": lambda: as_json(_daemon_part(state, StatusRequest())),
        "outbox-stats.json": lambda: as_json(_outbox_offline(state)),
        "serial-ports.json": lambda: as_json(serial_ports()),
        "journal.txt": lambda: redact_url(journal()).encode(),  # masks every URL quoted in a log line
        "agent-log.txt": lambda: redact_url(recent_log(state)).encode(),
    }
    for name, step in steps.items():
        try:
            parts[name] = step()
        except ConfigError as exc:
            errors.append(f"{name}: config invalid: {' | '.join(exc.problems)}")
        except (EdgepostError, OSError, ImportError, subprocess.SubprocessError) as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    if errors:
        parts["errors.txt"] = ("\n".join(errors) + "\n").encode()
    return parts, errors


def write_bundle(path: Path, parts: dict[str, bytes]) -> None:
    root = path.name.removesuffix(".tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name, data in parts.items():
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o640
            tar.addfile(info, io.BytesIO(data))


def diagnose(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="bundle file (.tar.gz)")] = None,
) -> None:
    """Write a support bundle: versions, redacted config, journal or recent log, status, serial ports, outbox."""
    state = state_of(ctx)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = output or Path(f"edgepost-diagnose-{socket.gethostname()}-{stamp}.tar.gz")
    parts, errors = collect(state)
    write_bundle(path, parts)
    state.emit(
        {"file": str(path), "parts": list[JsonValue](sorted(parts)), "errors": list[JsonValue](errors)},
        lambda: state.console.print(
            f"wrote {path} ({len(parts)} parts" + (f", {len(errors)} could not be collected)" if errors else ")")
        ),
    )
