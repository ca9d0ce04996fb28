"""Active alarms on disk, so a restart neither strands an alarm upstream nor raises it twice.

``alarms.json`` in the state directory lists the alarms whose raise the outbox has committed and
whose clear it has not. ``AlarmJournal`` wraps the pipeline's outbox writer: after each accept that
committed alarm events it rewrites the file (temp file, fsync, rename, fsync of the folder; mode
0640). Written after the commit, never before: a crash in between can at worst send a raise or a
clear twice (upstream sees the same transition again), never lose one.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson

from agent.logs import RateLimiter, log_event, log_limited
from agent.outbox.api import OutboxWriter
from agent.pipeline.alarms import CLEARED, RAISED, AlarmKey
from agent.records import Event, JsonValue, Record

log = logging.getLogger(__name__)

STATE_FILE = "alarms.json"
FILE_MODE = 0o640
VERSION = 1


class AlarmStateFile:
    """Blocking API: call it from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[AlarmKey, dict[str, JsonValue]]:
        """The saved active alarms (key -> what the raise said). A missing file is none; an unreadable one
        is logged and treated as none (the alarms are raised again if still active: never lost)."""
        try:
            doc = orjson.loads(self.path.read_bytes())
            active: dict[AlarmKey, dict[str, JsonValue]] = {}
            for entry in doc["active"]:
                key = (str(entry["device"]), str(entry["point"]), str(entry["alarm"]))
                active[key] = {k: v for k, v in entry.items() if k not in ("device", "point", "alarm")}
            return active
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log_event(log, "alarm_state_unreadable", logging.WARNING, path=str(self.path), error=str(exc))
            return {}

    def save(self, active: dict[AlarmKey, dict[str, JsonValue]]) -> None:
        """Replace the file atomically and durably. Raises ``OSError``."""
        entries = [{"device": d, "point": p, "alarm": a, **info} for (d, p, a), info in sorted(active.items())]
        data = orjson.dumps({"version": VERSION, "active": entries}, option=orjson.OPT_INDENT_2)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # the umask must not widen or narrow it
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _alarm_key(record: Record) -> AlarmKey | None:
    """The key of an evaluator's raise/clear event, None for any other record."""
    if not isinstance(record, Event) or record.kind not in (RAISED, CLEARED):
        return None
    alarm, point = record.data.get("alarm"), record.data.get("point")
    if not isinstance(alarm, str) or not isinstance(point, str):
        return None
    return (record.device, point, alarm)


class AlarmJournal:
    """An ``OutboxWriter`` in front of the outbox that keeps ``alarms.json`` in step with what it committed."""

    def __init__(self, outbox: OutboxWriter, state: AlarmStateFile,
                 active: dict[AlarmKey, dict[str, JsonValue]]) -> None:
        self._outbox = outbox
        self._state = state
        self._active = dict(active)
        self._dirty = False
        self._lock = asyncio.Lock()
        self._limiter = RateLimiter()

    @classmethod
    async def open(cls, outbox: OutboxWriter, state_dir: Path) -> AlarmJournal:
        state = AlarmStateFile(state_dir / STATE_FILE)
        return cls(outbox, state, await asyncio.to_thread(state.load))

    @property
    def active(self) -> frozenset[AlarmKey]:
        """Alarms whose raise is committed and clear is not (the evaluators start from these)."""
        return frozenset(self._active)

    def active_of(self, rule: str | None) -> frozenset[AlarmKey]:
        """The active alarms a ``data.rule`` marked as ``rule``'s (None: the unmarked, threshold alarms)."""
        return frozenset(k for k, info in self._active.items() if info.get("rule") == rule)

    async def accept(self, records: Sequence[Record]) -> list[int | None]:
        seqs = await self._outbox.accept(records)
        # a record the outbox refused (None: reject-new with the reserve full too) did not happen upstream
        changed = self._note(r for r, seq in zip(records, seqs, strict=True) if seq is not None)
        if changed or self._dirty:
            await self._save()
        return seqs

    def _note(self, records: Iterable[Record]) -> bool:
        changed = False
        for record in records:
            key = _alarm_key(record)
            if key is None:
                continue
            assert isinstance(record, Event)
            if record.kind == RAISED:
                self._active[key] = {"since": record.ts, "value": record.data.get("value")}
                if "rule" in record.data:  # which evaluator owns it (care rules mark theirs)
                    self._active[key]["rule"] = record.data["rule"]
            else:
                self._active.pop(key, None)
            changed = True
        return changed

    async def _save(self) -> None:
        async with self._lock:
            snapshot = dict(self._active)
            try:
                await asyncio.to_thread(self._state.save, snapshot)
            except OSError as exc:  # the records are committed; the file is retried with the next accept
                self._dirty = True
                log_limited(self._limiter, log, "save", "alarm_state_not_saved", path=str(self._state.path),
                            error=str(exc))
                return
            self._dirty = False
            self._limiter.reset("save")
