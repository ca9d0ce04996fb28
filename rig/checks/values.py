"""Every value published as ``good`` equals what the device put on the wire (simulated devices, from
the truth recorder, within ``window_s`` of the reading's timestamp) or what the expected-values file
says (real hardware). Values are compared after the same codec, so floats must match to rounding."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

from agent.records import PointValue
from rig.checks.result import CheckResult, limited
from rig.observe.truth import Truth, TruthSample
from rig.observe.upstream import Upstream
from rig.scenario.pole import ExpectedValue

_REL = 1e-9


def same(published: object, truth: PointValue) -> bool:
    if isinstance(truth, bool) or isinstance(published, bool):
        return published is truth
    if isinstance(truth, int | float) and isinstance(published, int | float):
        if math.isnan(float(truth)) or math.isnan(float(published)):
            return math.isnan(float(truth)) and math.isnan(float(published))
        return abs(float(published) - float(truth)) <= _REL * max(1.0, abs(float(truth)))
    return published == truth


def _on_wire(samples: list[TruthSample], times: list[float], value: object, ts: float, window: float | None) -> bool:
    if window is None:
        return any(same(value, s.value) for s in samples)
    lo = bisect.bisect_left(times, ts - window)
    hi = bisect.bisect_right(times, ts + window)
    return any(same(value, s.value) for s in samples[lo:hi])


def meets(expected: ExpectedValue, value: object) -> bool:
    if expected.value is not None:
        if isinstance(expected.value, int | float) and isinstance(value, int | float) and not isinstance(value, bool):
            return abs(float(value) - float(expected.value)) <= expected.tolerance
        return value == expected.value
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return (expected.min is None or value >= expected.min) and (expected.max is None or value <= expected.max)


def check_values(
    up: Upstream,
    truth: Truth,
    simulated: set[str],
    expected: Mapping[str, Mapping[str, ExpectedValue]],
    window_s: float | None,
) -> CheckResult:
    wrong: list[str] = []
    when: list[float] = []
    checked = unchecked = 0
    series: dict[tuple[str, str], tuple[list[TruthSample], list[float]]] = {}
    for r in up.first_occurrences():
        if not r.is_reading or r.item.get("q") != "good":
            continue
        dev, pt, value, ts = r.dev, str(r.item["pt"]), r.item.get("v"), float(r.item.get("ts", 0.0))
        if dev in simulated:
            if (dev, pt) not in series:
                samples = sorted(truth.of(dev, pt), key=lambda s: s.t)
                series[(dev, pt)] = (samples, [s.t for s in samples])
            samples, times = series[(dev, pt)]
            checked += 1
            if not _on_wire(samples, times, value, ts, window_s):
                near = [s.value for s in samples[max(0, bisect.bisect_left(times, ts) - 2):][:4]]
                wrong.append(f"seq {r.seq} {dev}.{pt} = {value!r} at ts {ts:.3f}: never on the wire (near: {near})")
                when.append(r.arrived)
        elif pt in expected.get(dev, {}):
            checked += 1
            rule = expected[dev][pt]
            if not meets(rule, value):
                wrong.append(f"seq {r.seq} {dev}.{pt} = {value!r}: expected {rule.model_dump(exclude_defaults=True)}")
                when.append(r.arrived)
        else:
            unchecked += 1
    if checked == 0:
        return CheckResult("values.good_equal_truth", None, f"no good value to check ({unchecked} without expectation)")
    return CheckResult(
        "values.good_equal_truth", not wrong,
        f"{checked} good values checked, {len(wrong)} wrong, {unchecked} without an expectation", limited(wrong),
        when,
    )
