"""Records the outbox refused: counted per device until a gap event reports them.

Under reject-new a full outbox refuses new telemetry (and, once the reserve is used up too, events
and alarms) instead of evicting old records. While degraded, a record is also refused when no seq
reserved on disk is left for it (seqs.py). A refused record is never silent: it is summed here and
announced upstream as a gap event (reason ``rejected``), one per device, once the outbox has room
for events again (the reserve, and seqs), and at most every ``ANNOUNCE_EVERY_S`` while refusals go on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from agent.logs import RateLimiter, log_limited
from agent.outbox.bounds import Gap
from agent.outbox.codec import NewRow, Row
from agent.outbox.seqs import SeqAllocator

log = logging.getLogger("agent.outbox")

ANNOUNCE_EVERY_S = 60.0


class Rejections:
    """Touched by the writer thread only (``total`` is read by stats as a plain attribute)."""

    def __init__(self) -> None:
        self._gaps: dict[str, Gap] = {}
        self.total = 0  # since the agent started
        self.since: float | None = None  # when the first record not yet announced was refused
        self._limiter = RateLimiter(60.0)

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

    def number(
        self,
        accepts: Sequence[list[NewRow]],
        refused: frozenset[int],
        stamp: float,
        seqs: SeqAllocator,
        rows: list[Row],
    ) -> tuple[list[list[int | None]], bool]:
        """Number each accept's rows (appended to ``rows``) but those refused: lanes reject-new
        refuses, and rows the seq reservation has no room for. Returns each accept's seqs (None:
        refused) and whether refusals go on (for ``due``)."""
        results: list[list[int | None]] = []
        no_seqs = False
        for new in accepts:
            if (refused and any(r[0] in refused for r in new)) or seqs.room(len(new)) < len(new):
                results.append(self.admit(new, refused, stamp, seqs, rows))
                if not no_seqs and seqs.room(1) == 0:
                    no_seqs = True
                    log_limited(self._limiter, log, "no_seqs", "outbox_no_seqs_reserved", logging.ERROR,
                                reserved=seqs.reserved, last_seq=seqs.last_seq)
                continue
            batch = seqs.number(new, stamp)
            rows.extend(batch)
            results.append([r[0] for r in batch])
        return results, bool(refused) or no_seqs

    def admit(
        self, new: list[NewRow], refused: frozenset[int], stamp: float, seqs: SeqAllocator, rows: list[Row]
    ) -> list[int | None]:
        """Number the rows of lanes not refused (appended to ``rows``) as far as the seq reservation
        allows, count the others: the accept's result, None where a record was refused."""
        wanted = [r for r in new if r[0] not in refused]
        room = seqs.room(len(wanted))
        numbered = iter(seqs.number(wanted[:room], stamp))
        out: list[int | None] = []
        dropped: list[NewRow] = []
        for r in new:
            if r[0] in refused or room == 0:
                dropped.append(r)
                out.append(None)
            else:
                row = next(numbered)
                rows.append(row)
                out.append(row[0])
                room -= 1
        self.add(dropped, stamp)
        return out

    def due(self, now: float, still_refusing: bool, seqs: SeqAllocator) -> bool:
        """Announce now: refusals ended, or they have gone on for a while; and there are seqs for it."""
        if not self._gaps or self.since is None:
            return False
        if still_refusing and now - self.since < ANNOUNCE_EVERY_S:
            return False
        return seqs.room(len(self._gaps)) == len(self._gaps)

    def take(self) -> list[Gap]:
        gaps, self._gaps, self.since = list(self._gaps.values()), {}, None
        return gaps
