"""Back-off, topics, TLS context errors, transport policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError, TlsError
from agent.outbox.config import OutboxConfig
from agent.uplink.backoff import Backoff
from agent.uplink.config import TlsConfig, UplinkConfig
from agent.uplink.tls import build_ssl_context
from agent.uplink.topics import Topics
from agent.uplink.uplink import Uplink
from tests.unit.uplink.fakes import FakeOutbox


def test_backoff_is_full_jitter_and_capped() -> None:
    b = Backoff(1.0, 8.0, rand=lambda: 1.0)
    assert [b.delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    b.reset()
    assert Backoff(1.0, 8.0, rand=lambda: 0.0).delay() == 0.0
    import random

    rng = random.Random(7)
    b = Backoff(0.5, 30.0, rand=rng.random)
    delays = [b.delay() for _ in range(50)]
    assert all(0 <= d <= 30.0 for d in delays) and len(set(delays)) == 50


def test_topics() -> None:
    t = Topics("site/a", "gw1")
    assert t.telemetry == "site/a/gw1/telemetry" and t.events == "site/a/gw1/events"
    assert t.state == "site/a/gw1/state" and t.birth == "site/a/gw1/birth"
    assert t.commands == "site/a/gw1/cmd/#" and t.command_results == "site/a/gw1/cmd-result"
    assert t.command_suffix("site/a/gw1/cmd/write") == "write"
    assert t.command_suffix("site/a/gw1/cmd") == ""
    assert t.command_suffix("site/a/gw1/cmd-result") is None


def test_missing_ca_file_is_tls_error(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match=r"uplink\.tls"):
        build_ssl_context(TlsConfig(ca_file=tmp_path / "nope.pem"))


def test_garbage_cert_is_tls_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(TlsError):
        build_ssl_context(TlsConfig(ca_file=bad))


async def test_plaintext_to_remote_refused_at_connect_time() -> None:
    # The validator refuses this too; build past it to prove the connect-time check holds on its own.
    config = UplinkConfig.model_construct(**{**UplinkConfig().model_dump(), "host": "192.0.2.10"})
    uplink = Uplink(config, OutboxConfig(), "gw1", FakeOutbox())
    with pytest.raises(ConfigError, match="plaintext"):
        await uplink.run()


def test_validator_refuses_plaintext_remote() -> None:
    with pytest.raises(ValueError, match="plaintext"):
        UplinkConfig(host="192.0.2.10")
    assert UplinkConfig(host="192.0.2.10", allow_insecure=True).allow_insecure
