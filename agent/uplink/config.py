"""Uplink settings (the ``uplink:`` section of config.yaml)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


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
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _no_silent_plaintext(self) -> UplinkConfig:
        if self.enabled and self.tls is None and not self.allow_insecure and not is_loopback(self.host):
            raise ValueError(
                f"plaintext MQTT to non-loopback host {self.host!r} refused: "
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
