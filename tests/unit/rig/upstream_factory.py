"""Build broker messages the way the agent's JSON codec does, to plant violations for the checkers."""

from __future__ import annotations

from typing import Any

import orjson

from rig.pole.collector import Received


def reading(seq: int, dev: str, pt: str, v: Any, ts: float, q: str = "good") -> dict[str, Any]:
    return {"seq": seq, "dev": dev, "pt": pt, "v": v, "u": None, "q": q, "ts": ts}


def event(seq: int, dev: str, ev: str, ts: float, data: dict[str, Any] | None = None,
          pri: str = "event") -> dict[str, Any]:
    return {"seq": seq, "dev": dev, "ev": ev, "pri": pri, "data": data or {}, "ts": ts}


def batch(records: list[dict[str, Any]], arrived: float, hist: bool = False, topic: str = "telemetry") -> Received:
    payload = orjson.dumps({"gw": "gw", "hist": hist, "records": records})
    return Received(f"edgepost/gw/{topic}", payload, False, 1, (), None, arrived)
