"""What a command's target raised -> the answer's code. Every failure maps to one; nothing escapes.

Typed errors map by kind. A write that got no reply may or may not have reached the device, so it
answers ``unknown`` (never ``ok``, never a plain failure that invites a blind retry). Anything else a
driver raises, typed or not, answers ``failed`` with the error named.
"""

from __future__ import annotations

from agent.errors import (
    CommandError,
    DeviceError,
    DeviceTimeout,
    TransportError,
    WriteOutcomeUnknown,
    WriteRejected,
    WriteVerifyFailed,
)
from drivers.base import NotSupported, PeriodRefused

UNKNOWN = "unknown"


def code_for(exc: BaseException, is_write: bool) -> str:
    """The answer code for ``exc`` raised while running a command (``is_write``: it wrote to a device)."""
    if isinstance(exc, CommandError):
        return exc.code
    if isinstance(exc, WriteOutcomeUnknown) or (is_write and isinstance(exc, DeviceTimeout | TimeoutError)):
        return UNKNOWN
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, WriteRejected | PeriodRefused):
        return "rejected"
    if isinstance(exc, NotSupported):
        return "not_supported"
    if isinstance(exc, WriteVerifyFailed):
        return "verify_failed"
    if isinstance(exc, DeviceError | TransportError):
        return "device_error"
    return "failed"


def message_for(exc: BaseException, code: str, limit_s: float) -> str:
    if isinstance(exc, TimeoutError):
        text = f"no answer within {limit_s:g} s"
        return f"{text}; the write may or may not have happened" if code == UNKNOWN else text
    if code == UNKNOWN and not isinstance(exc, WriteOutcomeUnknown):
        return f"{exc}; the write may or may not have happened"
    if code in ("failed",) and not isinstance(exc, CommandError):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)
