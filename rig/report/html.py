"""One self-contained HTML file: verdict, summary numbers, the timeline plot (embedded PNG), the checks
and the faults. A technician can mail it; it needs no network and no other file."""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

from rig.report.plot import timeline_png
from rig.results import RunResult

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.passed{color:#1a7f37}.failed{color:#cf222e;font-weight:bold}
.skipped{color:#888}.verdict{font-size:1.4em}pre{margin:0;white-space:pre-wrap;font-size:.85em}
img{max-width:100%;border:1px solid #ddd}
"""


def _row(*cells: str) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _esc(value: object) -> str:
    return html.escape(str(value))


def render_html(result: RunResult) -> str:
    s = result.summary
    verdict = "ERROR" if result.error else ("PASS" if result.passed else "FAIL")
    css = "passed" if verdict == "PASS" else "failed"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(result.started))
    png = base64.b64encode(timeline_png(result)).decode()
    numbers = [
        ("produced", s.produced), ("delivered", s.delivered), ("lost", s.lost), ("duplicated", s.duplicated),
        ("explained by gap events", s.explained),
        ("seqs skipped with a corrupt outbox file", s.moved_aside),
        ("reserved seqs skipped after unclean stops", s.skipped),
        ("slowest recovery after a fault", "-" if s.recovery_max_s is None else f"{s.recovery_max_s:.1f} s"),
        ("p50 latency (live)", "-" if s.p50_ms is None else f"{s.p50_ms:.0f} ms"),
        ("p99 latency (live)", "-" if s.p99_ms is None else f"{s.p99_ms:.0f} ms"),
        ("faults injected", s.faults_injected), ("faults skipped", s.faults_skipped),
        ("RSS growth", "-" if s.rss_growth_mb is None else f"{s.rss_growth_mb:.1f} MiB"),
        ("RSS trend", "-" if s.rss_per_hour_mb is None else f"{s.rss_per_hour_mb:+.1f} MiB/h"),
        ("mean CPU", "-" if s.cpu_mean is None else f"{s.cpu_mean:.1f} % of a core"),
    ]
    if len(s.rss_hourly_mb) > 1:
        numbers += [(f"RSS growth, hour {i + 1}", f"{g:+.1f} MiB") for i, g in enumerate(s.rss_hourly_mb)]
    checks = "".join(
        _row(_esc(c.name), f"<span class='{c.status}'>{c.status}</span>", _esc(c.summary),
             "<pre>" + _esc("\n".join(c.details)) + "</pre>" if c.details else "")
        for c in result.checks
    )
    faults = "".join(
        _row(f"{f.start - result.started:.1f}", f"{f.end - result.started:.1f}", _esc(f.kind),
             f"<span class='{'failed' if f.problems or f.status == 'failed' else f.status}'>{_esc(f.status)}</span>",
             _esc(f.detail) + ("<pre>" + _esc("\n".join(f.problems)) + "</pre>" if f.problems else ""))
        for f in result.faults
    )
    error = f"<p class='failed'>The run did not complete: {_esc(result.error)}</p>" if result.error else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>edgepost rig: {_esc(result.scenario)}</title>
<style>{_STYLE}</style></head><body>
<h1>edgepost rig: {_esc(result.scenario)}</h1>
<p class="verdict {css}">{verdict}</p>{error}
<p>{_esc(result.description)}</p>
<p>Group <b>{_esc(result.group)}</b>, mode <b>{_esc(result.mode)}</b>, seed {result.seed}, started {when},
ran {result.ended - result.started:.0f} s. Scenario file: <code>{_esc(result.source)}</code>.</p>
<h2>Summary</h2><table>{"".join(_row(_esc(k), _esc(v)) for k, v in numbers)}</table>
<h2>Timeline</h2>
<p>Coloured bands are faults (hatched: skipped or failed to inject); thin lines are one-off actions.</p>
<img alt="timeline plot" src="data:image/png;base64,{png}">
<h2>Checks</h2><table><tr><th>check</th><th>result</th><th>summary</th><th>details</th></tr>{checks}</table>
<h2>Faults</h2><table><tr><th>from s</th><th>to s</th><th>fault</th><th>status</th><th>what happened</th></tr>
{faults}</table>
</body></html>
"""


def write_html(result: RunResult, path: Path) -> Path:
    path.write_text(render_html(result), encoding="utf-8")
    return path
