"""Care rule state on disk (``care.json`` in the state dir), so a restart neither forgets how long a
home has been quiet nor mistakes the time the agent was down for no use.

Written whole, atomically and durably (temp file, fsync, rename, fsync of the folder), mode 0640
like every state file (``agent/private_files.py``): on every raise or clear *before* the event is
queued, and every ``care.save_interval_s`` otherwise. A crash loses at most that much of the
counting, never a transition: the engine compares the saved state with the committed alarms.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from agent.logs import log_event
from agent.pipeline.alarms import AlarmKey
from agent.pipeline.care.counter import CounterTrack
from agent.pipeline.care.rules import KINDS, RuleState
from agent.private_files import write_private

log = logging.getLogger(__name__)

STATE_FILE = "care.json"
VERSION = 1


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _entry(state: RuleState) -> dict[str, Any]:
    track = state.track
    return {
        "alarming": state.alarming,
        "held_s": state.held_s,
        "since": state.since,
        "last_ts": track.last_ts,
        "last_value": track.last_value,
        "opened": track.opened,
        "volume": track.volume,
    }


def _state(entry: dict[str, Any]) -> RuleState:
    track = CounterTrack(
        last_ts=_number(entry["last_ts"]),
        last_value=_number(entry["last_value"]),
        opened=_number(entry["opened"]),
        volume=_number(entry["volume"]) or 0.0,
    )
    alarming = entry["alarming"]
    if not isinstance(alarming, bool):
        raise TypeError(f"alarming: expected true or false, got {alarming!r}")
    return RuleState(alarming=alarming, held_s=_number(entry["held_s"]) or 0.0, since=_number(entry["since"]),
                     track=track)


class CareStateFile:
    """Blocking API: call it from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[AlarmKey, RuleState]:
        """The saved states. A missing file is none; an unreadable one is logged and treated as none
        (every rule then starts afresh: it needs its full hours of readings before it can raise)."""
        try:
            doc = orjson.loads(self.path.read_bytes())
            states: dict[AlarmKey, RuleState] = {}
            for entry in doc["rules"]:
                kind = str(entry["rule"])
                if kind in KINDS:
                    states[(str(entry["device"]), str(entry["point"]), kind)] = _state(entry)
            return states
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log_event(log, "care_state_unreadable", logging.WARNING, path=str(self.path), error=str(exc))
            return {}

    @staticmethod
    def encode(states: dict[AlarmKey, RuleState]) -> bytes:
        """The file's content (on the event loop: the states change under it)."""
        rules = [{"device": d, "point": p, "rule": k, **_entry(s)} for (d, p, k), s in sorted(states.items())]
        return orjson.dumps({"version": VERSION, "rules": rules}, option=orjson.OPT_INDENT_2)

    def write(self, data: bytes) -> None:
        """Replace the file atomically and durably. Raises ``OSError``."""
        write_private(self.path, data, durable=True)
