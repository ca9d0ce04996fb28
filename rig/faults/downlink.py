"""Downlink abuse: fuzzed commands (garbage, wrong types, unknown kinds, expired, oversized) and a
flood of pings. Every payload with a readable id must get one answer; the checkers count them."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import orjson

from rig.faults.context import FaultContext, Outcome, SentCommand
from rig.scenario.faults import CommandFlood, CommandFuzz


def _fuzz_case(rng: random.Random, index: int) -> tuple[bytes, str | None, bool | None]:
    """(payload, id the answer must carry or None, whether it must succeed or None)."""
    cid = f"rig-fuzz-{index}"
    future = time.time() + 300
    cases: list[tuple[Any, bool | None]] = [
        ({"id": cid, "expires_at": future, "kind": "ping"}, True),
        ({"id": cid, "expires_at": future, "kind": "no_such_kind"}, False),
        ({"id": cid, "expires_at": time.time() - 60, "kind": "ping"}, False),
        ({"id": cid, "expires_at": future, "kind": "write_point", "device": "nowhere", "point": "x",
          "value": 1}, False),
        ({"id": cid, "expires_at": future, "kind": "set_period", "device": "nowhere", "point": None,
          "period_s": -1}, False),
        ({"id": cid, "expires_at": future, "kind": "ping", "extra": "field"}, False),
        ({"id": cid, "expires_at": "soon", "kind": "ping"}, False),
        ({"id": cid, "expires_at": 1e30, "kind": "ping"}, False),
        ({"id": cid, "expires_at": future, "kind": "read_point", "device": "x" * 5000, "point": "y"}, False),
    ]
    roll = rng.random()
    if roll < 0.12:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))), None, None
    if roll < 0.2:
        return b"{\"id\": \"" + cid.encode() + b"\", \"kind\": ", None, None  # truncated JSON
    if roll < 0.26:
        return orjson.dumps(rng.choice([[1, 2, 3], "ping", 42, None, {"kind": "ping"}])), None, None
    if roll < 0.3:
        nested: Any = {"id": cid}
        for _ in range(200):
            nested = {"n": nested}
        return orjson.dumps({"id": cid, "expires_at": future, "kind": "ping", "deep": nested}), cid, False
    body, ok = rng.choice(cases)
    return orjson.dumps(body), cid, ok


async def command_fuzz(ctx: FaultContext, spec: CommandFuzz) -> Outcome:
    topic = f"{ctx.pole.topic_root}/cmd/rig"
    for index in range(spec.count):
        payload, cid, ok = _fuzz_case(ctx.rng, len(ctx.sent) + index)
        ctx.pole.collector.publish(topic, payload)
        if cid is not None:
            ctx.sent.append(SentCommand(cid, time.time(), ok))
        await asyncio.sleep(0.01)
    return Outcome(f"{spec.count} fuzzed commands")


async def command_flood(ctx: FaultContext, spec: CommandFlood) -> Outcome:
    topic = f"{ctx.pole.topic_root}/cmd/rig"
    started = time.monotonic()
    base = len(ctx.sent)
    for index in range(spec.count):
        cid = f"rig-flood-{base + index}"
        body: dict[str, Any] = {"id": cid, "expires_at": time.time() + 600, "kind": spec.command}
        if spec.command == "read_point":
            body.update(device=spec.device, point=spec.point)
        ctx.pole.collector.publish(topic, orjson.dumps(body))
        ctx.sent.append(SentCommand(cid, time.time(), None))
        delay = started + (index + 1) / spec.per_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return Outcome(f"{spec.count} {spec.command} commands at {spec.per_s:g}/s")
