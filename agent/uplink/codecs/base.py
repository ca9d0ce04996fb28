"""The upstream codec contract: stored records in, MQTT payloads out.

A codec turns a slice of outbox records into one or more payloads, each no larger than
``max_payload_bytes``, and says which seqs each payload carries (they are deleted from the outbox on
that payload's PUBACK). Codecs are found through the ``edgepost.codecs`` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from agent.outbox.api import StoredRecord


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """One MQTT payload and the records it carries."""

    payload: bytes
    seqs: tuple[int, ...]
    records: int
    historical: bool
    compressed: bool
    content_type: str

    @property
    def encoding(self) -> str:
        """Value of the ``enc`` MQTT5 user property."""
        return "zlib" if self.compressed else "identity"


class Codec(ABC):
    """Encode outbox records for upstream. One instance per uplink connection config."""

    name: ClassVar[str]

    def __init__(self, gateway_id: str, max_payload_bytes: int, compress_historical: bool = True) -> None:
        self.gateway_id = gateway_id
        self.max_payload_bytes = max_payload_bytes
        self.compress_historical = compress_historical

    @abstractmethod
    def encode(self, records: Sequence[StoredRecord], historical: bool) -> list[EncodedBatch]:
        """Payloads carrying every record of ``records`` (in order), each within ``max_payload_bytes``."""
