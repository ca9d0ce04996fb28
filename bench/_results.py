"""Results as data: every bench reports its figures, each beside the baseline measured in the same run.

A bench builds a ``Report``, adds ``Figure``s and writes them with ``report.write(args.json)``;
``bench/run.py`` gathers the reports of one run into one results file (machine, commit, figures)
and ``bench/render_readme.py`` renders the README's measured section from it.

A figure's ``ratio`` is value / baseline. ``ratio_better`` says which way is good. ``floor`` is the
ratio the bench states it reaches in smoke mode; ``make bench-smoke`` fails when the ratio of that
run is 2x worse than it (below floor / 2, or above floor x 2 when lower is better). Both sides of a
ratio come from the same run, so a loaded machine slows both and does not fail it.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Better = Literal["higher", "lower"]
REGRESSION_FACTOR = 2.0


@dataclass
class Figure:
    id: str  # stable key, "<bench>.<what>"
    title: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_title: str | None = None
    baseline_unit: str | None = None  # default: the figure's unit
    better: Better = "higher"  # which way the value is good
    ratio_better: Better | None = None  # default: ``better``
    goal: str | None = None  # as the issue states it, e.g. ">= 0.95 of the wire optimum"
    goal_id: str | None = None  # "P1".."P7"
    goal_met: bool | None = None
    floor: float | None = None  # smoke: the ratio this bench reaches (see the module docstring)
    note: str | None = None
    runs: list[float] = field(default_factory=list)
    ratio: float | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline not in (None, 0):
            assert self.baseline is not None
            self.ratio = self.value / self.baseline
        if self.ratio_better is None:
            self.ratio_better = self.better

    def smoke_verdict(self) -> tuple[bool, str] | None:
        """(passed, reason) for a figure with a floor; None when it states none."""
        if self.floor is None:
            return None
        ratio = self.ratio
        if ratio is None or not math.isfinite(ratio):
            return False, "no ratio measured"
        if self.ratio_better == "higher":
            limit = self.floor / REGRESSION_FACTOR
            return ratio >= limit, f"ratio {ratio:.3g} (floor {self.floor:g}, fails below {limit:.3g})"
        limit = self.floor * REGRESSION_FACTOR
        return ratio <= limit, f"ratio {ratio:.3g} (floor {self.floor:g}, fails above {limit:.3g})"


@dataclass
class Report:
    bench: str
    mode: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "mode": self.mode,
            "params": self.params,
            "notes": self.notes,
            "figures": [_clean(asdict(f)) for f in self.figures],
        }

    def write(self, path: Path | None) -> None:
        if path is not None:
            path.write_text(json.dumps(self.as_dict(), indent=1, allow_nan=False))


def figure_from_dict(data: dict[str, Any]) -> Figure:
    return Figure(**data)


def _clean(value: Any) -> Any:
    """NaN/inf are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def add_mode_args(parser: argparse.ArgumentParser) -> None:
    """``--smoke`` (seconds, for CI), ``--quick`` (a short look) and ``--json PATH`` (the report)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="the shortest run that still measures (CI)")
    group.add_argument("--quick", action="store_true", help="a shorter run than the full one")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")


def mode_of(args: argparse.Namespace) -> str:
    return "smoke" if args.smoke else "quick" if args.quick else "full"
