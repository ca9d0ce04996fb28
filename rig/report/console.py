"""The console summary: one row per scenario (produced/delivered/lost/duplicated/latency/faults),
then every check that did not pass."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from rig.results import RunResult


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_summary(results: Sequence[RunResult], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="edgepost rig")
    for column in ("scenario", "mode", "produced", "delivered", "lost", "duplicated", "p50 ms", "p99 ms",
                   "faults", "checks", "result"):
        table.add_column(column, justify="left" if column in ("scenario", "mode", "result") else "right")
    for r in results:
        s = r.summary
        checks = [c for c in r.checks if c.passed is not None]
        ok = len([c for c in checks if c.passed])
        verdict = "[red]ERROR[/]" if r.error else ("[green]PASS[/]" if r.passed else "[red]FAIL[/]")
        faults = f"{s.faults_injected}" + (f" (+{s.faults_skipped} skipped)" if s.faults_skipped else "")
        table.add_row(r.scenario, r.mode, str(s.produced), str(s.delivered), str(s.lost), str(s.duplicated),
                      _ms(s.p50_ms), _ms(s.p99_ms), faults, f"{ok}/{len(checks)}", verdict)
    console.print(table)
    for r in results:
        if len(r.summary.rss_hourly_mb) > 1:
            hours = ", ".join(f"h{i + 1} {g:+.1f}" for i, g in enumerate(r.summary.rss_hourly_mb))
            console.print(f"{r.scenario}: RSS growth per hour (MiB): {hours}")
        if r.error:
            console.print(f"[red]{r.scenario}: the run did not complete:[/] {r.error}")
        for check in r.failed_checks:
            console.print(f"[red]{r.scenario}: {check.name}[/]: {check.summary}")
            for line in check.details[:8]:
                console.print(f"    {line}", markup=False, highlight=False)
