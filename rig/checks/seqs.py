"""Every seq arrives or a gap explains it; duplicates are identical; per-device order is kept.

Holes are found between the seqs received (so a seq jump after a lost database costs nothing to
scan). A hole right before an ``outbox_corrupt`` alarm is explained (those records were moved aside
with the corrupt file); ``gap`` events explain as many missing seqs as they count, and so do command
answers sent through the outbox (their messages on ``cmd-result`` carry no seq). A ``lost_in_ram`` gap
after an unclean stop announces the seq range the outbox had reserved and skipped: those seqs are
``skipped``, not records produced (outside degraded mode nothing accepted was only in RAM), so the
summary's ``produced`` leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.checks.result import CheckResult, limited
from rig.observe.upstream import Upstream


@dataclass
class SeqStats:
    produced: int = 0  # seqs in 1..last that should have arrived
    delivered: int = 0  # distinct seqs received
    lost: int = 0  # missing and not explained
    explained: int = 0  # missing, explained by gap events (evicted or expired) or outbox command answers
    moved_aside: int = 0  # the seq jump before an outbox_corrupt alarm: the old file's rows and unused seqs
    skipped: int = 0  # missing, covered by lost_in_ram gaps: reserved seqs skipped after an unclean stop
    duplicates: int = 0  # extra copies received


def holes(received: set[int], upto: int) -> list[tuple[int, int]]:
    """Inclusive ranges of 1..upto not in ``received``."""
    out: list[tuple[int, int]] = []
    expected = 1
    for seq in sorted(s for s in received if s <= upto):
        if seq > expected:
            out.append((expected, seq - 1))
        expected = seq + 1
    if expected <= upto:
        out.append((expected, upto))
    return out


def check_seqs(up: Upstream, upto: int | None = None) -> tuple[list[CheckResult], SeqStats]:
    firsts = up.first_occurrences()
    received = {r.seq for r in firsts}
    stats = SeqStats(delivered=len(received), duplicates=len(up.records) - len(firsts))
    last = upto if upto is not None else max(received, default=0)
    corrupt_at = {r.seq for r in up.events("outbox_corrupt")}
    counts = [(r.item.get("data", {}), int(r.item.get("data", {}).get("count", 0) or 0)) for r in up.events("gap")]
    budget = sum(n for data, n in counts if data.get("reason") != "lost_in_ram") + up.outbox_answers
    skip_budget = sum(n for data, n in counts if data.get("reason") == "lost_in_ram")
    missing: list[str] = []
    for lo, hi in holes(received, last):
        size = hi - lo + 1
        if hi + 1 in corrupt_at:
            stats.moved_aside += size
            missing.append(f"seqs {lo}..{hi}: skipped after the outbox file was found corrupt (moved aside)")
            continue
        covered = min(budget, size)
        budget -= covered
        stats.explained += covered
        skipped = min(skip_budget, size - covered)
        skip_budget -= skipped
        stats.skipped += skipped
        if size > covered + skipped:
            stats.lost += size - covered - skipped
            missing.append(f"seq {lo}" if lo == hi else f"seqs {lo}..{hi} ({size})")
    stats.produced = stats.delivered + stats.lost + stats.explained
    aside = f", {stats.moved_aside} skipped with a corrupt outbox file" if stats.moved_aside else ""
    aside += f", {stats.skipped} reserved seqs skipped after unclean stops (lost_in_ram gaps)" if stats.skipped else ""
    complete = CheckResult(
        "seqs.complete", stats.lost == 0,
        f"{stats.delivered} delivered, {stats.lost} lost, {stats.explained} explained by gap events or "
        f"command answers{aside} "
        f"(seqs up to {last})",
        limited(missing),
    )
    return [complete, _duplicates(up), _order(up)], stats


def _duplicates(up: Upstream) -> CheckResult:
    first: dict[int, dict[str, object]] = {}
    changed: list[str] = []
    when: list[float] = []
    copies = 0
    for r in up.records:
        seen = first.setdefault(r.seq, r.item)
        if seen is not r.item:
            copies += 1
            if seen != r.item:
                changed.append(f"seq {r.seq}: first {seen} then {r.item}")
                when.append(r.arrived)
    return CheckResult(
        "seqs.duplicates_identical", not changed,
        f"{copies} duplicate deliveries, {len(changed)} differ from the first copy", limited(changed), when,
    )


def _order(up: Upstream) -> CheckResult:
    last: dict[tuple[str, bool, str], int] = {}
    bad: list[str] = []
    when: list[float] = []
    for r in up.first_occurrences():
        key = (r.dev, r.hist, r.lane)
        if r.seq < last.get(key, 0):
            bad.append(f"{r.dev} ({'historical' if r.hist else 'live'} {r.lane}): seq {r.seq} after {last[key]}")
            when.append(r.arrived)
        last[key] = max(r.seq, last.get(key, 0))
    return CheckResult(
        "seqs.order", not bad, f"{len(bad)} records arrived before an older one of the same device and stream",
        limited(bad), when,
    )
