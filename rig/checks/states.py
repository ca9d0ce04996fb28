"""Device state events: for each device named in ``expect.device_states``, the states its
``device_state`` (or ``camera_state``) events report must pass through the expected ones in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rig.checks.result import CheckResult
from rig.observe.upstream import Upstream

_STATE_EVENTS = ("device_state", "camera_state")


def states_of(up: Upstream, device: str) -> list[str]:
    records = sorted((r for r in up.first_occurrences() if r.dev == device and r.item.get("ev") in _STATE_EVENTS),
                     key=lambda r: r.seq)
    return [str((r.item.get("data") or {}).get("state")) for r in records]


def is_subsequence(wanted: Sequence[str], seen: Sequence[str]) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


def check_states(up: Upstream, expected: Mapping[str, Sequence[str]]) -> list[CheckResult]:
    results = []
    for device, wanted in expected.items():
        seen = states_of(up, device)
        results.append(CheckResult(
            f"states.{device}", is_subsequence(wanted, seen),
            f"expected {' -> '.join(wanted)}; reported {' -> '.join(seen) or 'nothing'}",
        ))
    return results
