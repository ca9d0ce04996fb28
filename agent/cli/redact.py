"""Secrets out of a config before it is shown or put in a support bundle."""

from __future__ import annotations

import re

from agent.config import AgentConfigBase
from agent.records import JsonValue
from agent.redact import redact_url

__all__ = ["REDACTED", "redact", "redact_url", "redacted_config"]

REDACTED = "<redacted>"

# Keys whose value is a secret or names where one lives (a private key file is worth hiding too).
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|private|api_key|key_file|psk)", re.I)


def redact(value: JsonValue, key: str = "") -> JsonValue:
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if value is not None and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_url(value)
    return value


def redacted_config(config: AgentConfigBase) -> JsonValue:
    """The effective config (defaults filled in) as plain JSON with every secret replaced."""
    # mode="json" already renders SecretStr as '**********'; the key rules catch plain-str secrets.
    return redact(config.model_dump(mode="json"))
