"""Records the ``reject-new`` policy refused: counted per device until a gap event reports them.

Under reject-new a full outbox refuses new telemetry (and, once the reserve is used up too, events
and alarms) instead of evicting old records. A refused record is never silent: it is summed here and
announced upstream as a gap event (reason ``rejected``), one per device, once the outbox has room
for events again (the reserve), and at most every ``ANNOUNCE_EVERY_S`` while refusals go on.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.outbox.bounds import Gap
from agent.outbox.codec import NewRow, Row
from agent.outbox.seqs import SeqAllocator

ANNOUNCE_EVERY_S = 60.0


class Rejections:
    """Touched by the writer thread only (``total`` is read by stats as a plain attribute)."""

    def __init__(self) -> None:
        self._gaps: dict[str, Gap] = {}
        self.total = 0  # since the agent started
        self.since: float | None = None  # when the first record not yet announced was refused

    def __bool__(self) -> bool:
        return bool(self._gaps)

    def add(self, rows: Iterable[NewRow], now: float) -> int:
        """Count refused rows; returns how many."""
        count = 0
        gaps = self._gaps
        for _, _, device, ts, _ in rows:
            old = gaps.get(device)
            gaps[device] = Gap(device, ts, ts, 1) if old is None else Gap(
                device, min(old.first_ts, ts), max(old.last_ts, ts), old.count + 1
            )
            count += 1
        if count and self.since is None:
            self.since = now
        self.total += count
        return count

    def admit(
        self, new: list[NewRow], refused: frozenset[int], stamp: float, seqs: SeqAllocator, rows: list[Row]
    ) -> list[int | None]:
        """Number the rows of lanes not refused (appended to ``rows``), count the others: the
        accept's result, None where a record was refused."""
        self.add((r for r in new if r[0] in refused), stamp)
        numbered = iter(seqs.number([r for r in new if r[0] not in refused], stamp))
        out: list[int | None] = []
        for r in new:
            if r[0] in refused:
                out.append(None)
            else:
                row = next(numbered)
                rows.append(row)
                out.append(row[0])
        return out

    def due(self, now: float, still_refusing: bool) -> bool:
        """Announce now: refusals ended, or they have gone on for a while."""
        if not self._gaps or self.since is None:
            return False
        return not still_refusing or now - self.since >= ANNOUNCE_EVERY_S

    def take(self) -> list[Gap]:
        gaps, self._gaps, self.since = list(self._gaps.values()), {}, None
        return gaps
