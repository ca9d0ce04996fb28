"""One error tree for the whole agent.

Transient errors are worth retrying (a device that timed out, a broker that went away);
permanent ones are not (a bad config, a profile that contradicts itself, a refused write).
Third-party exceptions are translated into these at the boundary where they are caught.
"""

from __future__ import annotations


class EdgepostError(Exception):
    """Root of every error edgepost raises on purpose."""


class TransientError(EdgepostError):
    """Retrying later may succeed."""


class PermanentError(EdgepostError):
    """Retrying will not help until something (config, profile, command) changes."""


class ConfigError(PermanentError):
    """A config file is invalid. ``problems`` holds one ``file:line:col path: message`` per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ProfileError(PermanentError):
    """A firmware profile is invalid or cannot be resolved."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class DriverNotFound(PermanentError):
    """No driver is registered under the ``driver:`` name a config asks for."""


class DeviceError(TransientError):
    """A field device misbehaved."""

    def __init__(self, device: str, message: str) -> None:
        self.device = device
        super().__init__(f"{device}: {message}")


class DeviceTimeout(DeviceError):
    """The device did not answer in time (a silent RS-485 unit, a dead TCP peer)."""


# The exception codes of the Modbus application protocol (v1.1b3, section 7), in a technician's words.
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge (still working on it)",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def exception_text(exception_code: int) -> str:
    """``illegal data address (exception 2)``: the name first, the number for the manual."""
    return f"{EXCEPTION_NAMES.get(exception_code, 'unknown exception')} (exception {exception_code})"


class DeviceException(DeviceError):
    """The device answered with a Modbus exception code."""

    def __init__(self, device: str, function_code: int, exception_code: int) -> None:
        self.function_code = function_code
        self.exception_code = exception_code
        super().__init__(device, exception_text(exception_code))


class FramingError(DeviceError):
    """A reply did not answer the request it was waiting for (another unit, another function, a
    wrong byte count, a write echo that differs), or failed its CRC. Counted, never turned into a value."""


class TransportError(TransientError):
    """A serial port or TCP connection failed underneath the protocol."""


class WriteRejected(PermanentError):
    """A write was refused before reaching the wire: unknown point, read-only, out of range, wrong type."""

    def __init__(self, device: str, point: str, reason: str) -> None:
        self.device = device
        self.point = point
        self.reason = reason
        super().__init__(f"{device}.{point}: {reason}")


class RequestRefused(PermanentError):
    """A request that must never go on the wire: a read to the broadcast unit 0, which either no
    device answers or every device answers at once."""


class InvalidRequest(PermanentError):
    """A request no device could be sent as asked (an address past the table's end, more registers
    than one frame carries, a value no register holds): refused before the wire, in one line."""


class WriteVerifyFailed(TransientError):
    """The read-back after a write did not return the value written."""


class WriteOutcomeUnknown(EdgepostError):
    """A write went on the wire but no reply confirmed it: the device may or may not have applied it.

    Neither transient nor permanent on purpose: writes are not idempotent, so whether to send it
    again is a decision for whoever asked (after reading the value back), never an automatic retry.
    """

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"{device}: write outcome unknown ({reason}); it may have been applied")


class OutboxError(EdgepostError):
    """The SQLite outbox could not do what was asked."""


class RecordRejected(OutboxError, PermanentError):
    """One record can never be stored (a value with no JSON form); the rest of its batch can."""


class OutboxFull(OutboxError, TransientError):
    """The outbox is at its bound and the full policy refuses the record."""


class UplinkError(TransientError):
    """The MQTT uplink is down or a publish failed."""


class TlsError(PermanentError):
    """TLS could not be set up; never answered by falling back to plaintext."""


class CommandError(PermanentError):
    """A downlink or CLI command is malformed, unauthorised, expired or replayed."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ModelError(PermanentError):
    """An ONNX model or its manifest is invalid."""
