"""Bench results as data: smoke floors, the README rendering, and the bench table."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import render_readme  # noqa: E402
import run  # noqa: E402
from _results import Figure, Report  # noqa: E402


def test_a_ratio_fails_the_smoke_run_only_when_2x_worse_than_its_floor() -> None:
    higher = Figure("x.rate", "rate", value=50, unit="/s", baseline=100, floor=0.9)
    assert higher.ratio == 0.5
    assert higher.smoke_verdict() == (True, "ratio 0.5 (floor 0.9, fails below 0.45)")
    assert Figure("x.rate", "rate", value=44, unit="/s", baseline=100, floor=0.9).smoke_verdict()[0] is False  # type: ignore[index]
    lower = Figure("x.time", "time", value=3, unit="s", baseline=1, better="lower", floor=1.4)
    assert lower.smoke_verdict()[0] is False  # type: ignore[index]  # 3.0 > 2 x 1.4
    assert Figure("x.time", "time", value=3, unit="s", baseline=1, better="lower", floor=1.5).smoke_verdict() == (
        True, "ratio 3 (floor 1.5, fails above 3)")
    assert Figure("x.info", "no floor", value=1, unit="").smoke_verdict() is None
    assert Figure("x.nan", "nan", value=math.nan, unit="", baseline=1, floor=1).smoke_verdict()[0] is False  # type: ignore[index]
    assert Figure("x.none", "none", value=1, unit="", floor=1).smoke_verdict() == (False, "no ratio measured")


def test_a_report_round_trips_through_json_without_nan(tmp_path: Path) -> None:
    report = Report("bench_x", "smoke")
    report.add(Figure("x.a", "a", value=math.inf, unit="/s", baseline=2.0, runs=[math.nan, 1.0]))
    path = tmp_path / "r.json"
    report.write(path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text


def results_with(*figures: Figure, status: str = "ok") -> dict[str, object]:
    report = Report("bench_x", "full")
    for f in figures:
        report.add(f)
    return {
        "mode": "full", "started": "2026-01-01T00:00:00+00:00", "seconds": 1.0,
        "machine": {"cpu": "CPU", "cores": 2, "python": "3.11", "sqlite": "3.40", "versions": {"mosquitto": "2.0"},
                    "load_avg_start": [1.0, 1.0, 1.0], "load_avg_end": [2.0, 2.0, 2.0]},
        "commit": {"sha": "0123456789abcdef", "dirty": False},
        "benches": {"bench_x": {"status": status, "report": report.as_dict()}},
    }


def test_goals_are_rendered_in_order_with_their_same_run_baseline() -> None:
    text = render_readme.render(results_with(
        Figure("x.p3", "ingest", value=250_000, unit="records/s", baseline=500_000, baseline_title="bare",
               goal=">= 300k/s", goal_id="P3", goal_met=False),
        Figure("x.p1", "readings/s", value=66.0, unit="readings/s", baseline=69.0, baseline_title="wire optimum",
               goal=">= 0.95 of optimum", goal_id="P1", goal_met=True),
    ))
    p1, p3 = text.index("| P1 |"), text.index("| P3 |")
    assert p1 < p3
    assert "66.00 readings/s | wire optimum: 69.00 readings/s | 0.957 | >= 0.95 of optimum | **met**" in text
    assert "250,000 records/s | bare: 500,000 records/s | 0.500 | >= 300k/s | **not met**" in text
    assert text.startswith(render_readme.BEGIN) and text.endswith(render_readme.END)


def test_a_bench_that_did_not_finish_is_named() -> None:
    assert "Did not finish: `bench_x` (timeout)" in render_readme.render(results_with(status="timeout"))


def test_the_readme_section_is_the_rendering_of_the_latest_results() -> None:
    readme = (ROOT / "README.md").read_text()
    expected = render_readme.splice(readme, render_readme.render(render_readme.load(render_readme.LATEST)))
    assert readme == expected, "README's measured section was edited by hand: run bench/render_readme.py"


def test_every_bench_file_is_in_the_runners_table_with_a_smoke_mode() -> None:
    table = run.known()
    files = {p.stem for p in (ROOT / "bench").glob("bench_*.py")}
    assert files <= set(table)
    for name in files:
        bench = table[name]
        if bench.figures:
            source = (ROOT / "bench" / f"{name}.py").read_text()
            assert "add_mode_args" in source, f"{name} reports figures but takes no --smoke/--json"
            assert bench.smoke is not None, name


@pytest.mark.parametrize("value", [0.000123, 0.5, 12.345, 123.45, 12345.6])
def test_numbers_are_readable(value: float) -> None:
    assert render_readme.number(value) in {"0.000123", "0.5", "12.35", "123.5", "12,346"}
