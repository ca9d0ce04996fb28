"""Recovery: after every injected fault ends, records reach the broker again within a bound (no stuck
state: a reconnect, a reopened port or a restarted writer must not wait for luck)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from rig.checks.result import CheckResult
from rig.observe.faultlog import FaultRecord
from rig.observe.upstream import Upstream


def recovery_times(up: Upstream, faults: Sequence[FaultRecord]) -> list[tuple[FaultRecord, float | None]]:
    """Seconds from each injected fault's end to the next record at the broker (None: nothing came)."""
    arrivals = sorted(r.arrived for r in up.records)
    out: list[tuple[FaultRecord, float | None]] = []
    for fault in faults:
        if fault.status != "injected":
            continue
        index = bisect.bisect_right(arrivals, fault.end)
        out.append((fault, arrivals[index] - fault.end if index < len(arrivals) else None))
    return out


def check_recovery(up: Upstream, faults: Sequence[FaultRecord], limit_s: float) -> tuple[CheckResult, float | None]:
    times = recovery_times(up, faults)
    if not times:
        return CheckResult("recovery.after_faults", None, "no fault injected"), None
    details = []
    failed = False
    worst: float | None = 0.0
    for fault, seconds in times:
        if seconds is None:
            failed, worst = True, None
            details.append(f"{fault.kind} (ended at {fault.end:.1f}): no record reached the broker afterwards")
            continue
        if worst is not None:
            worst = max(worst, seconds)
        late = seconds > limit_s
        failed |= late
        details.append(f"{fault.kind}: data again {seconds:.1f} s after it ended" + (" (too late)" if late else ""))
    summary = "no data after a fault" if worst is None else f"slowest recovery {worst:.1f} s"
    summary += f" (limit {limit_s:g} s)"
    return CheckResult("recovery.after_faults", not failed, summary, details), worst
