"""TLS faults: the broker presents a bad (self-signed, wrong name), expired or wrong-CA certificate.
The agent must refuse it (nothing delivered meanwhile), never fall back to plaintext, and deliver
its backlog once the good certificate is back."""

from __future__ import annotations

import asyncio
import time

from rig.errors import ToolMissing
from rig.faults.broker import restart_broker
from rig.faults.context import FaultContext, Outcome, Skip, hold
from rig.pole.certs import bad_server_cert
from rig.scenario.faults import TlsBadCert

_TLS_HANDSHAKE = 0x16


async def tls_bad_cert(ctx: FaultContext, spec: TlsBadCert) -> Outcome:
    ctx.need_local_broker()
    broker, proxy = ctx.pole.broker, ctx.pole.proxy
    assert broker is not None and proxy is not None
    if broker.certs is None:
        raise Skip("needs pole.broker.tls: true")
    try:
        cert = await asyncio.to_thread(bad_server_cert, broker.workdir / "bad-certs", broker.certs, spec.variant)
    except ToolMissing as exc:
        raise Skip(str(exc)) from None
    broker.present(cert)
    await restart_broker(ctx, 0.0)
    collector = ctx.pole.collector
    before = collector.count()
    window_start = time.time()
    await hold(spec.for_s)
    delivered = [
        m for m in collector.snapshot()[before:]
        if m.topic.endswith(("/telemetry", "/events")) and m.arrived > window_start + 1.0
    ]
    broker.present(None)
    await restart_broker(ctx, 0.0)
    outcome = Outcome(f"broker presented a {spec.variant} certificate for {spec.for_s:g} s")
    if delivered:
        outcome.problems.append(f"{len(delivered)} batches delivered through a {spec.variant} certificate")
    plaintext = [b for b in proxy.stats.first_bytes if b != _TLS_HANDSHAKE]
    if plaintext:
        outcome.problems.append(f"{len(plaintext)} connections did not start with a TLS handshake (plaintext?)")
    return outcome
