"""Render the README's measured section from a results file (``bench/run.py`` writes them).

    .venv/bin/python bench/render_readme.py [bench/results/latest.json]   # rewrite README.md's section
    .venv/bin/python bench/render_readme.py --check                       # exit 1 if README.md differs

The section sits between the two ``bench:`` markers; nothing in it is written by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _results import Figure, figure_from_dict

ROOT = Path(__file__).resolve().parents[1]
LATEST = ROOT / "bench" / "results" / "latest.json"
BEGIN = "<!-- bench:begin: rendered by bench/render_readme.py from bench/results/latest.json; do not edit -->"
END = "<!-- bench:end -->"
DASH = "\u2013"  # an en dash for an empty cell
TIMES = "\u00d7"
GOAL_ORDER = ("P1", "P2", "P3", "P4", "P5", "P6", "P7")


def number(value: float | None) -> str:
    if value is None:
        return DASH
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def with_unit(value: float | None, unit: str | None) -> str:
    return number(value) if not unit else f"{number(value)} {unit}"


def ratio_text(figure: Figure) -> str:
    if figure.ratio is None:
        return DASH
    return f"{figure.ratio:.3f}" if figure.ratio < 10 else f"{figure.ratio:.1f}"


def baseline_text(figure: Figure) -> str:
    if not figure.baseline_title:
        return DASH
    return f"{figure.baseline_title}: {with_unit(figure.baseline, figure.baseline_unit or figure.unit)}"


def verdict(figure: Figure) -> str:
    if figure.goal_met is None:
        return "not judged here" if figure.goal else ""
    return "**met**" if figure.goal_met else "**not met**"


def _figures(results: dict[str, Any]) -> list[tuple[str, Figure]]:
    out: list[tuple[str, Figure]] = []
    for name, bench in results["benches"].items():
        for data in (bench.get("report") or {}).get("figures", []):
            out.append((name, figure_from_dict(data)))
    return out


def render(results: dict[str, Any] | None) -> str:
    if results is None:
        return "\n".join([BEGIN, "", "No results file yet: `make bench` writes one and renders this section.", "",
                          END])
    m, c = results["machine"], results["commit"]
    load = f"{m['load_avg_start'][0]:.1f} at the start, {m['load_avg_end'][0]:.1f} at the end"
    lines = [
        BEGIN,
        "",
        f"`make bench` ({results['mode']} mode), {results['started']}, commit `{c['sha'][:10]}`"
        f"{' (with uncommitted changes)' if c['dirty'] else ''}, {m['cpu']} {TIMES} {m['cores']} cores, "
        f"Python {m['python']}, SQLite {m['sqlite']}, mosquitto {m['versions'].get('mosquitto', '?')}; "
        f"load average {load}. Every ratio is against a baseline measured in the same run.",
    ]
    beside = [f"`{n}`" for n, b in results["benches"].items() if b.get("beside_the_others")]
    if beside:
        lines += ["", f"{', '.join(beside)} ran beside the other benches (its soak is an hour of a light agent), "
                      "the others one at a time."]
    if results["mode"] != "full":
        lines += ["", f"**A {results['mode']} run: shorter windows and smaller sizes than `make bench`; "
                      "not the numbers to quote.**"]
    figures = _figures(results)
    goals = sorted(((b, f) for b, f in figures if f.goal_id),
                   key=lambda bf: (GOAL_ORDER.index(bf[1].goal_id) if bf[1].goal_id in GOAL_ORDER else 99))
    if goals:
        lines += ["", "| # | measure | result | baseline (same run) | ratio | goal | |",
                  "|---|---|---|---|---|---|---|"]
        for bench, f in goals:
            lines.append(
                f"| {f.goal_id} | {f.title} (`{bench}`) | {with_unit(f.value, f.unit)} | "
                f"{baseline_text(f)} | {ratio_text(f)} | "
                f"{f.goal or ''} | {verdict(f)} |"
            )
    lines += ["", "<details><summary>Every figure</summary>", "",
              "| bench | figure | value | baseline (same run) | ratio | note |", "|---|---|---|---|---|---|"]
    for bench, f in figures:
        lines.append(f"| `{bench}` | {f.title} | {with_unit(f.value, f.unit)} | {baseline_text(f)} | {ratio_text(f)} | "
                     f"{(f.note or '').replace('|', '/')} |")
    lines += ["", "</details>"]
    unfinished = [f"`{n}` ({b['status']})" for n, b in results["benches"].items()
                  if b["status"] in ("failed", "timeout")]
    if unfinished:
        lines += ["", f"Did not finish: {', '.join(unfinished)}."]
    notes = [(n, note) for n, b in results["benches"].items() for note in (b.get("report") or {}).get("notes", [])]
    if notes:
        lines += [""] + [f"- `{n}`: {note}" for n, note in notes]
    lines += ["", END]
    return "\n".join(lines)


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def splice(readme: str, section: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise ValueError(f"README.md has no section between {BEGIN!r} and {END!r}")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + section + tail


def update_readme(results_path: Path, readme_path: Path) -> bool:
    """Rewrite the section; True when it changed."""
    text = readme_path.read_text()
    new = splice(text, render(load(results_path)))
    if new != text:
        readme_path.write_text(new)
    return new != text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=LATEST)
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when the README's section is not the rendering")
    args = parser.parse_args()
    if args.check:
        text = args.readme.read_text()
        if splice(text, render(load(args.results))) != text:
            print(f"{args.readme}: the measured section is not the rendering of {args.results}; "
                  "run bench/render_readme.py", file=sys.stderr)
            return 1
        return 0
    changed = update_readme(args.results, args.readme)
    print(f"{args.readme}: {'rendered' if changed else 'unchanged'} from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
