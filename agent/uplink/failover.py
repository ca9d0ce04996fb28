"""Which broker to dial: the first of ``uplink.broker_list`` when it works, the next on failure.

The uplink moves to the next broker when a connect fails, when a QoS 1 message gets no PUBACK within
``puback_timeout_s`` (a broker or cluster node can keep the TCP connection alive while it stopped
acknowledging, e.g. a NATS node whose JetStream stream leader died), and when the Sparkplug primary
host goes offline (the spec's walk to the next server). Un-acked records stay in the outbox and are
replayed on the new connection. While on a later broker, it tries the first again after
``return_to_first_s``, doubling (up to ``reconnect_max_s``) each time the first still fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agent.errors import UplinkError
from agent.uplink.config import BrokerAddress


class ConnectFailed(UplinkError):
    """The broker refused or did not answer the CONNECT."""


class ReturnToFirst(UplinkError):
    """Internal: leave a later broker on purpose to try the first one again."""


class BrokerRotation:
    def __init__(
        self,
        brokers: list[BrokerAddress],
        return_after_s: float,
        return_max_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.brokers = brokers
        self.index = 0
        self._return_base = return_after_s
        self._return_max = max(return_max_s, return_after_s)
        self._return_delay = return_after_s
        self._return_at: float | None = None
        self._monotonic = monotonic
        self._untried = len(brokers) - 1  # brokers left to try before a full round failed

    @property
    def current(self) -> BrokerAddress:
        return self.brokers[self.index]

    def advance(self) -> bool:
        """Move to the next broker; True when it was not yet tried since the last good connection."""
        self.index = (self.index + 1) % len(self.brokers)
        fresh = self._untried > 0
        self._untried = self._untried - 1 if fresh else len(self.brokers) - 1
        return fresh

    def connected(self) -> None:
        self._untried = len(self.brokers) - 1
        if self.index == 0:
            self._return_delay = self._return_base
            self._return_at = None
        else:
            self._return_at = self._monotonic() + self._return_delay

    def return_due_in(self) -> float | None:
        """Seconds until this session should leave for the first broker; None on the first broker."""
        if self.index == 0 or self._return_at is None:
            return None
        return max(0.0, self._return_at - self._monotonic())

    def returning(self) -> None:
        """Leave for the first broker; if it fails, the next return waits twice as long."""
        self._return_delay = min(self._return_max, self._return_delay * 2)
        self.index = 0
        self._untried = len(self.brokers) - 1
