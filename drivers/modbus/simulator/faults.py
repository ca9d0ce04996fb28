"""Fault modes of a simulated device, written ``silent``, ``exception:<code>``, ``corrupt-crc[:<p>]``,
``slow:<ms>``, ``slow-write:<ms>`` or ``drop[:<p>]``. A device holds a ``FaultSet`` that can be
replaced at run time.

``slow-write`` is a device that commits writes to flash before answering: the write is applied at
once, its reply comes late (reads are answered as usual).

``corrupt-crc`` applies to RTU framing (serial, RTU over TCP); Modbus TCP frames carry no CRC, so
there it has no effect.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    SILENT = "silent"  # never answers
    EXCEPTION = "exception"  # answers every request with this exception code
    CORRUPT_CRC = "corrupt-crc"  # answers with a broken CRC, with a probability
    SLOW = "slow"  # extra turnaround, milliseconds
    SLOW_WRITE = "slow-write"  # extra turnaround of write replies only, milliseconds
    DROP = "drop"  # does not answer, with a probability


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    exception_code: int = 0
    probability: float = 1.0
    delay_ms: float = 0.0

    def __str__(self) -> str:
        if self.kind is FaultKind.EXCEPTION:
            return f"exception:{self.exception_code}"
        if self.kind in (FaultKind.SLOW, FaultKind.SLOW_WRITE):
            return f"{self.kind}:{self.delay_ms:g}"
        if self.kind in (FaultKind.CORRUPT_CRC, FaultKind.DROP):
            return f"{self.kind}:{self.probability:g}"
        return str(self.kind)


def parse_fault(text: str) -> Fault:
    """``"exception:4"`` -> ``Fault``. Raises ``ValueError`` naming what was expected."""
    name, _, arg = text.strip().partition(":")
    try:
        kind = FaultKind(name.strip().lower())
    except ValueError:
        expected = ", ".join(k.value for k in FaultKind)
        raise ValueError(f"unknown fault {text!r}; expected one of {expected}") from None
    arg = arg.strip()
    if kind is FaultKind.SILENT:
        if arg:
            raise ValueError(f"fault 'silent' takes no argument, got {text!r}")
        return Fault(kind)
    if kind is FaultKind.EXCEPTION:
        code = _number(text, arg, int)
        if not 1 <= code <= 255:
            raise ValueError(f"exception code must be 1..255, got {text!r}")
        return Fault(kind, exception_code=int(code))
    if kind in (FaultKind.SLOW, FaultKind.SLOW_WRITE):
        delay = _number(text, arg, float)
        if delay < 0:
            raise ValueError(f"{kind} needs milliseconds >= 0, got {text!r}")
        return Fault(kind, delay_ms=delay)
    probability = _number(text, arg, float) if arg else 1.0
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be 0..1, got {text!r}")
    return Fault(kind, probability=probability)


def _number(text: str, arg: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(arg)
    except ValueError:
        raise ValueError(f"fault {text!r} needs a {kind.__name__} argument, e.g. 'slow:50'") from None


@dataclass(frozen=True)
class FaultDecision:
    """What the faults make of one request."""

    answer: bool = True
    corrupt_crc: bool = False
    extra_delay_s: float = 0.0
    extra_write_delay_s: float = 0.0  # on top of ``extra_delay_s`` when the request is a write


NO_FAULT = FaultDecision()


class FaultSet:
    """The faults active on one device. Seeded so a run can be replayed."""

    def __init__(self, faults: list[Fault] | None = None, seed: int | None = None) -> None:
        self.faults: tuple[Fault, ...] = tuple(faults or ())
        self._rng = random.Random(seed)

    def __str__(self) -> str:
        return ",".join(str(f) for f in self.faults) or "none"

    @property
    def exception_code(self) -> int | None:
        """The exception every request is answered with, when an ``exception:<code>`` fault is active."""
        for fault in self.faults:
            if fault.kind is FaultKind.EXCEPTION:
                return fault.exception_code
        return None

    def decide(self) -> FaultDecision:
        """Whether (and how) to answer one request; the exception fault is applied by the device."""
        if not self.faults:
            return NO_FAULT
        answer = True
        corrupt = False
        delay = 0.0
        write_delay = 0.0
        for fault in self.faults:
            if fault.kind is FaultKind.SILENT:
                answer = False
            elif fault.kind is FaultKind.DROP:
                answer = answer and not self._hit(fault.probability)
            elif fault.kind is FaultKind.CORRUPT_CRC:
                corrupt = corrupt or self._hit(fault.probability)
            elif fault.kind is FaultKind.SLOW:
                delay += fault.delay_ms / 1000.0
            elif fault.kind is FaultKind.SLOW_WRITE:
                write_delay += fault.delay_ms / 1000.0
        return FaultDecision(answer=answer, corrupt_crc=corrupt, extra_delay_s=delay, extra_write_delay_s=write_delay)

    def _hit(self, probability: float) -> bool:
        return probability >= 1.0 or self._rng.random() < probability
