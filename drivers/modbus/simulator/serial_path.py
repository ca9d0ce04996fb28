"""What a real master's serial path adds to the wire: a USB-serial adapter and a device's uneven answers.

The wire model (``wire.py``) times bytes and silences on an ideal line with a native UART at the
master. Most edge boxes reach RS-485 through a USB adapter, and devices do not answer in a fixed time:

- **USB out:** a full-speed USB adapter takes a request from the host on the next 1 ms USB frame;
- **latency timer:** an FTDI-style adapter hands received bytes to the host when its buffer fills
  (62 bytes) or when its latency timer expires (1..255 ms; 16 ms by default on Linux, 1 ms with
  ``low_latency``), so the end of every answer waits for the timer's next tick;
- **turnaround jitter:** the device's answer delay varies, uniformly in ``[turnaround, turnaround +
  jitter]``.

The line itself is free again one t3.5 after the answer's last byte on the wire, whatever the
adapter does after. Pure arithmetic over times handed in; the random draws are seeded.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

USB_FRAME_S = 0.001


def _next_tick(t: float, period_s: float, phase_s: float) -> float:
    return phase_s + math.ceil((t - phase_s) / period_s) * period_s


@dataclass
class SerialPath:
    adapter_latency_ms: float = 0.0  # 0: a native UART, no USB adapter
    turnaround_jitter_ms: float = 0.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _phase_s: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.adapter_latency_ms < 0 or self.turnaround_jitter_ms < 0:
            raise ValueError("adapter latency and turnaround jitter are >= 0")
        self._rng = random.Random(self.seed)
        self._phase_s = self._rng.random() * max(self.adapter_latency_ms / 1000.0, USB_FRAME_S)

    @property
    def ideal(self) -> bool:
        return self.adapter_latency_ms == 0 and self.turnaround_jitter_ms == 0

    def request_on_wire(self, written_at: float) -> float:
        """When a request the host wrote at ``written_at`` starts on the line."""
        if self.adapter_latency_ms == 0:
            return written_at
        return _next_tick(written_at, USB_FRAME_S, self._phase_s)

    def turnaround_s(self, nominal_s: float) -> float:
        if self.turnaround_jitter_ms == 0:
            return nominal_s
        return nominal_s + self._rng.random() * self.turnaround_jitter_ms / 1000.0

    def answer_at_host(self, wire_end: float) -> float:
        """When the host reads an answer whose last byte left the line at ``wire_end``."""
        if self.adapter_latency_ms == 0:
            return wire_end
        return _next_tick(wire_end, self.adapter_latency_ms / 1000.0, self._phase_s)

    def mean_extra_s(self) -> float:
        """Mean dead time per request this path adds to the ideal wire (for an optimum that knows it)."""
        usb = USB_FRAME_S / 2 if self.adapter_latency_ms else 0.0
        return usb + self.adapter_latency_ms / 2000.0 + self.turnaround_jitter_ms / 2000.0
