"""Exit codes of the ``edgepost`` command, so scripts can tell failures apart.

| code | meaning |
|---|---|
| 0 | ok |
| 1 | the operation failed (outbox, uplink, transport, any other error) |
| 2 | usage error or invalid config |
| 3 | the daemon is not running but the command needs it |
| 4 | the device did not answer (timeout, silent unit, nothing found by scan) |
| 5 | the device or the agent refused (Modbus exception, write rejected, read-back mismatch) |
| 6 | not available here (component not installed, driver does not support it) |
| 7 | permission denied (control socket group, serial port) |
| 8 | a write went out but no reply confirmed it: it may or may not have been applied (not resent) |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

from enum import IntEnum

import agent.errors as errors_module
from agent.errors import EdgepostError


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NO_DAEMON = 3
    NO_ANSWER = 4
    REFUSED = 5
    UNAVAILABLE = 6
    PERMISSION = 7
    OUTCOME_UNKNOWN = 8
    INTERRUPTED = 130


class CliError(EdgepostError):
    """An error the CLI itself raises, carrying its exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        self.code = code
        super().__init__(message)


class Unavailable(CliError):
    """A command whose component is not installed or not landed yet."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.UNAVAILABLE)


# Class names, so an error answered by the daemon (known only by its name) maps like a local one.
_BY_NAME: dict[str, ExitCode] = {
    "ConfigError": ExitCode.USAGE,
    "ProfileError": ExitCode.USAGE,
    "BadRequest": ExitCode.USAGE,
    "DriverNotFound": ExitCode.UNAVAILABLE,
    "NotSupported": ExitCode.UNAVAILABLE,
    "DaemonNotRunning": ExitCode.NO_DAEMON,
    "ControlPermissionDenied": ExitCode.PERMISSION,
    "DeviceTimeout": ExitCode.NO_ANSWER,
    "FramingError": ExitCode.NO_ANSWER,
    "RequestRefused": ExitCode.USAGE,
    "InvalidRequest": ExitCode.USAGE,
    "WriteOutcomeUnknown": ExitCode.OUTCOME_UNKNOWN,
    "DeviceException": ExitCode.REFUSED,
    "WriteRejected": ExitCode.REFUSED,
    "WriteVerifyFailed": ExitCode.REFUSED,
    "CommandError": ExitCode.USAGE,
}


def _names_in_mro(kind: str) -> list[str]:
    cls = getattr(errors_module, kind, None)
    if isinstance(cls, type):
        return [c.__name__ for c in cls.__mro__]
    return [kind]


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an error raised locally or answered by the daemon (``RemoteError.kind``)."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, PermissionError):
        return ExitCode.PERMISSION
    kind = getattr(exc, "kind", None)
    names = _names_in_mro(kind) if isinstance(kind, str) else [c.__name__ for c in type(exc).__mro__]
    for name in names:
        if name in _BY_NAME:
            return _BY_NAME[name]
    return ExitCode.FAILED
