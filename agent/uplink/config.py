"""Uplink settings (the ``uplink:`` section of config.yaml)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from agent.uplink.backoff import spread_window_s


class TlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_hostname: str | None = Field(None, description="override for SNI/hostname checks")

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


SPARKPLUG_ID = r"^[^+/#]+$"  # Sparkplug ids: any UTF-8 but + / # (tck-id-topic-structure-namespace-valid-*)


class BrokerAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(1883, ge=1, le=65535)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class SparkplugConfig(BaseModel):
    """``uplink.sparkplug``: used when ``uplink.namespace`` is ``sparkplug`` (scheme in TOPICS.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_id: str = Field("edgepost", pattern=SPARKPLUG_ID)
    edge_node_id: str | None = Field(None, pattern=SPARKPLUG_ID, description="default: the gateway id")
    primary_host_id: str | None = Field(
        None, pattern=SPARKPLUG_ID, description="hold data in the outbox while this host's STATE is offline"
    )
    qos: Literal[0, 1] = Field(
        0, description="0: Sparkplug 3.0 (births and data at QoS 0); 1: durable, deleted on PUBACK (outside the spec)"
    )


class UplinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["3.1.1", "5"] = "5"
    client_id: str | None = Field(None, description="default: edgepost-{gateway id}")
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsConfig | None = None
    allow_insecure: bool = Field(False, description="allow plaintext to a broker that is not on loopback")
    topic_prefix: str = Field("edgepost", pattern=r"^[^#+]*$")
    keepalive_s: int = Field(30, ge=5, le=3600)
    inflight: int = Field(100, ge=1, le=65535, description="QoS 1 messages awaiting PUBACK")
    batch_records: int = Field(500, ge=1, le=100_000)
    max_payload_bytes: int = Field(256 * 1024, ge=1024, le=256 * 1024 * 1024)
    compress_backlog: bool = True
    codec: str = "json"
    namespace: Literal["json", "sparkplug"] = "json"
    sparkplug: SparkplugConfig = SparkplugConfig()
    brokers: list[BrokerAddress] = Field(
        default_factory=list, description="more brokers, tried in order after host:port when one fails"
    )
    puback_timeout_s: float = Field(
        15.0, gt=0, description="a QoS 1 message not acknowledged within this moves to the next broker"
    )
    return_to_first_s: float = Field(
        60.0, gt=0, description="on a later broker, try the first again after this (doubling up to reconnect_max_s)"
    )
    reconnect_min_s: float = Field(1.0, gt=0, description="first step of the back-off after a failed connect")
    reconnect_max_s: float = Field(
        120.0, gt=0, description="longest back-off step (also caps the reconnect spread window)"
    )
    reconnect_fleet_size: int = Field(
        1000, ge=1, description="how many gateways share this broker (or cluster); sets the reconnect spread"
    )
    reconnect_max_rate: float = Field(
        100.0, gt=0, description="connects/s the broker may see from the whole fleet when it comes back"
    )
    reconnect_jitter: bool = Field(
        True, description="false: fixed back-off steps, a fleet in lockstep (benchmarks only)"
    )

    @property
    def reconnect_window_s(self) -> float:
        """Seconds over which this gateway spreads its reconnects (docs/fleet-load.md, "Reconnect storms").

        ``reconnect_fleet_size`` gateways each dialling at most once per window, from a random phase,
        keep the broker's 1-second connect counts under ``reconnect_max_rate`` (1,000 at 100/s: 14.9 s).
        """
        return min(spread_window_s(self.reconnect_fleet_size, self.reconnect_max_rate), self.reconnect_max_s)

    @property
    def broker_list(self) -> list[BrokerAddress]:
        """host:port first, then ``brokers`` (failover order)."""
        first = BrokerAddress(host=self.host, port=self.port)
        return [first, *(b for b in self.brokers if b != first)]

    @model_validator(mode="after")
    def _no_silent_plaintext(self) -> UplinkConfig:
        if not self.enabled or self.tls is not None or self.allow_insecure:
            return self
        for broker in self.broker_list:
            if not is_loopback(broker.host):
                raise ValueError(
                    f"plaintext MQTT to non-loopback host {broker.host!r} refused: "
                    "configure tls: or set allow_insecure: true"
                )
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
