"""The broker's view, decoded: records of telemetry/events/snapshots batches, command results, states.

Pure functions over the collector's messages, so the checkers can be fed planted violations.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from rig.pole.collector import Received


@dataclass(frozen=True)
class UpRecord:
    seq: int
    dev: str
    hist: bool
    item: dict[str, Any]  # the record exactly as it arrived (without the batch's hist flag)
    arrived: float

    @property
    def is_reading(self) -> bool:
        return "pt" in self.item

    @property
    def lane(self) -> str:
        return "telemetry" if self.is_reading else str(self.item.get("pri", "event"))


@dataclass
class Upstream:
    records: list[UpRecord] = field(default_factory=list)  # arrival order, duplicates kept
    results: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # cmd-result answers
    # answer messages sent as outbox records (MQTT 5 user property kind=cmd_result): each used a seq it does
    # not show. A re-sent record and a repeated answer (its own record) look the same byte for byte, so
    # every message counts: an upper bound that can hide at most one loss per duplicate delivery.
    outbox_answers: int = 0
    undecodable: list[str] = field(default_factory=list)  # payloads that were not valid batches
    states: list[tuple[float, str]] = field(default_factory=list)  # arrival, "online"/"offline" (incl. the Will)

    def online_at(self, t: float, margin_s: float = 0.5) -> bool | None:
        """Whether the broker saw the agent online at ``t``; None within ``margin_s`` of a change."""
        if any(abs(t - arrived) < margin_s for arrived, _ in self.states):
            return None
        before = [state for arrived, state in self.states if arrived <= t]
        return before[-1] == "online" if before else None

    def first_occurrences(self) -> list[UpRecord]:
        seen: set[int] = set()
        out = []
        for r in self.records:
            if r.seq not in seen:
                seen.add(r.seq)
                out.append(r)
        return out

    def events(self, kind: str | None = None) -> list[UpRecord]:
        return [r for r in self.first_occurrences() if not r.is_reading and (kind is None or r.item.get("ev") == kind)]


def inflate(payload: bytes) -> bytes:
    if payload[:1] in (b"{", b"["):
        return payload
    return zlib.decompress(payload)


def decode(messages: Iterable[Received]) -> Upstream:
    up = Upstream()
    for m in messages:
        if m.topic.endswith(("/telemetry", "/events")):
            try:
                doc = orjson.loads(inflate(m.payload))
                hist = bool(doc["hist"])
                items = list(doc["records"])
            except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError) as exc:
                up.undecodable.append(f"{m.topic}: {exc}")
                continue
            for item in items:
                up.records.append(UpRecord(int(item["seq"]), str(item["dev"]), hist, item, m.arrived))
        elif m.topic.endswith("/snapshots"):
            try:
                doc = orjson.loads(m.payload)
                item = {k: v for k, v in doc.items() if k not in ("hist", "gw")}
                up.records.append(UpRecord(int(doc["seq"]), str(doc["dev"]), bool(doc.get("hist")), item, m.arrived))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                up.undecodable.append(f"{m.topic}: {exc}")
        elif m.topic.endswith("/state"):
            up.states.append((m.arrived, m.payload.decode(errors="replace")))
        elif m.topic.endswith("/cmd-result"):
            try:
                answer = dict(orjson.loads(m.payload))
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                up.undecodable.append(f"{m.topic}: {exc}")
                continue
            up.results.append((m.arrived, answer))
            if ("kind", "cmd_result") in m.user_properties:
                up.outbox_answers += 1
    return up
