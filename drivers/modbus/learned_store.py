"""The learned illegal ranges of one Modbus driver instance, on disk: ``<state_dir>/modbus/<name>.illegal.json``.

``{device: {table: [[start, end, learned_at, next_probe_at, refusals], ...]}}``; files of older
versions hold bare ``[start, end]`` pairs and still load. Written to a temporary file and renamed,
so a power cut leaves the old file or the new one, never half of one (private to the service user).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from agent.logs import log_event
from agent.private_files import write_private
from drivers.modbus.learned import IllegalRanges, ReprobePolicy

log = logging.getLogger(__name__)

Snapshot = dict[str, dict[str, list[list[float]]]]


class LearnedStore:
    def __init__(self, path: Path, policy: ReprobePolicy, enabled: bool = True) -> None:
        self.path = path
        self.policy = policy
        self.enabled = enabled

    def load(self) -> dict[str, IllegalRanges]:
        return {dev: IllegalRanges.from_dict(rows, self.policy) for dev, rows in self.read().items()}

    def read(self) -> Snapshot:
        """What the file holds; an unreadable file is logged and counts as empty."""
        if not self.enabled or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            for rows in data.values():  # check the shape now, not halfway through a load
                IllegalRanges.from_dict(rows, self.policy)
            return dict(data)
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            log_event(log, "learned_ranges_unreadable", logging.WARNING, path=str(self.path), reason=str(exc))
            return {}

    def write(self, snapshot: Snapshot) -> None:
        """Raises ``OSError`` (a read-only state dir, a CLI user without write access)."""
        write_private(self.path, json.dumps(snapshot, sort_keys=True).encode("utf-8"))
