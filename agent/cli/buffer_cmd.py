"""``edgepost buffer stats|export|purge``: the SQLite outbox, through the daemon when it runs."""

from __future__ import annotations

import csv
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import orjson
import typer

from agent.cli.exit_codes import CliError, ExitCode, Unavailable
from agent.cli.outbox_read import read_stats, record_pages
from agent.cli.render import mapping_table
from agent.cli.state import CliState, run, state_of
from agent.control.handlers import to_json
from agent.control.protocol import BufferPurgeRequest, BufferStatsRequest
from agent.outbox.api import StoredRecord

app = typer.Typer(help="The local store-and-forward buffer (outbox).", no_args_is_help=True)

PAGE = 2000
CSV_COLUMNS = (
    "seq", "priority", "kind", "device", "ts", "accepted_at", "point", "value", "unit", "quality", "event", "data",
)


@asynccontextmanager
async def open_outbox(state: CliState) -> AsyncIterator[Any]:
    """The outbox itself, for writing (``purge`` when no daemon runs); reads go through ``outbox_read``."""
    try:
        from agent.outbox.store import Outbox
    except ImportError as exc:
        raise Unavailable(f"the outbox component is not installed ({exc})") from None
    config = state.config()
    outbox = await Outbox.open(config.state_dir, config.outbox, config.gateway.id)
    try:
        yield outbox
    finally:
        await outbox.close()


@app.command()
def stats(ctx: typer.Context) -> None:
    """Depth, oldest record, size and counters of the outbox (read-only when no daemon runs)."""
    state = state_of(ctx)
    title = "outbox"
    if state.daemon_running():
        data = state.call(BufferStatsRequest())
    else:
        config = state.config()
        data = to_json(read_stats(config.state_dir, config.outbox))
        title = "outbox (read from the file: no daemon running)"
    state.emit(data, lambda: state.console.print(mapping_table(title, data if isinstance(data, dict) else {})))


def parse_time(text: str | None) -> float | None:
    """Unix seconds or an ISO 8601 time (naive means local time)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise CliError(f"invalid time {text!r}: use unix seconds or ISO 8601", ExitCode.USAGE) from None


def _keep(device: str | None, since: float | None, until: float | None) -> Callable[[StoredRecord], bool]:
    def keep(record: StoredRecord) -> bool:
        if device is not None and record.device != device:
            return False
        if since is not None and record.ts < since:
            return False
        return not (until is not None and record.ts >= until)

    return keep


def _flat(record: StoredRecord) -> dict[str, Any]:
    body = record.body
    row: dict[str, Any] = {
        "seq": record.seq,
        "priority": record.priority.name.lower(),
        "kind": record.kind,
        "device": record.device,
        "ts": record.ts,
        "accepted_at": record.accepted_at,
    }
    if record.kind == "reading":
        row.update(point=body.get("point"), value=body.get("value"), unit=body.get("unit"), quality=body.get("quality"))
    else:
        row.update(event=body.get("kind"), data=orjson.dumps(body.get("data") or {}).decode())
    return row


def export_records(
    pages: Iterable[list[StoredRecord]],
    out: IO[str],
    fmt: Literal["csv", "jsonl"],
    keep: Callable[[StoredRecord], bool],
) -> int:
    """Stream the outbox page by page (by seq), never loading it whole."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    written = 0
    for page in pages:
        for record in page:
            if keep(record):
                if writer is not None:
                    writer.writerow(_flat(record))
                else:
                    out.write(orjson.dumps(to_json(record)).decode() + "\n")
                written += 1
    return written


@app.command()
def export(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file (default: stdout)")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or jsonl")] = "csv",
    device: Annotated[str | None, typer.Option("--device", help="only this device")] = None,
    since: Annotated[str | None, typer.Option(help="read time >= this (unix s or ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(help="read time < this")] = None,
) -> None:
    """Write buffered records as CSV or JSON lines (read-only; the daemon may keep running)."""
    state = state_of(ctx)
    if fmt not in ("csv", "jsonl"):
        raise CliError(f"--format must be csv or jsonl, got {fmt!r}", ExitCode.USAGE)
    checked_fmt: Literal["csv", "jsonl"] = "csv" if fmt == "csv" else "jsonl"
    keep = _keep(device, parse_time(since), parse_time(until))
    pages = record_pages(state.config().state_dir, PAGE)
    if output is None:
        count = export_records(pages, sys.stdout, checked_fmt, keep)
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            count = export_records(pages, out, checked_fmt, keep)
    sys.stderr.write(f"exported {count} record(s)\n")


@app.command()
def purge(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option("--device", help="only this device")] = None,
    before: Annotated[str | None, typer.Option(help="only records read before this")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Drop buffered records (never uploaded); a gap event tells upstream what is missing."""
    state = state_of(ctx)
    before_ts = parse_time(before)
    what = f"records of {device}" if device else "ALL buffered records"
    if before_ts is not None:
        what += f" read before {before}"
    if not yes and not typer.confirm(f"Purge {what}? They will never be uploaded", default=False):
        raise CliError("purge cancelled", ExitCode.FAILED)
    if state.daemon_running():
        result = state.call(BufferPurgeRequest(device=device, before=before_ts))
        purged = result.get("purged") if isinstance(result, dict) else None
    else:

        async def _purge() -> int:
            async with open_outbox(state) as outbox:
                count: int = await outbox.purge(device, before_ts)
                return count

        purged = run(_purge())
    state.emit(
        {"purged": purged},
        lambda: state.console.print(f"purged {purged} record(s); a gap event records it for upstream"),
    )
