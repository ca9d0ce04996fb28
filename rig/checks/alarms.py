"""Alarms alternate: per (device, alarm) the events go raise, clear, raise... in seq order. Two raises
in a row mean the agent forgot an active alarm (a restart) and raised it again as new."""

from __future__ import annotations

from rig.checks.result import CheckResult, limited
from rig.observe.upstream import Upstream


def check_alarms(up: Upstream) -> CheckResult:
    records = sorted((r for r in up.first_occurrences() if r.item.get("ev") in ("alarm", "alarm_cleared")),
                     key=lambda r: r.seq)
    if not records:
        return CheckResult("alarms.alternate", None, "no alarm raised")
    active: dict[tuple[str, str], bool] = {}
    bad = []
    when = []
    for r in records:
        key = (r.dev, str((r.item.get("data") or {}).get("alarm")))
        raised = r.item.get("ev") == "alarm"
        if active.get(key, False) == raised:
            what = "raised again while active" if raised else "cleared while not active"
            bad.append(f"seq {r.seq} {key[0]} {key[1]}: {what}")
            when.append(r.arrived)
        active[key] = raised
    return CheckResult("alarms.alternate", not bad, f"{len(records)} alarm events, {len(bad)} out of turn",
                       limited(bad), when)
