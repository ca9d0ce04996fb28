"""Exit codes: local and daemon-answered errors map alike, and the documentation lists every code."""

from __future__ import annotations

import pytest

import agent.cli.exit_codes as exit_codes
from agent.cli.exit_codes import CliError, ExitCode, exit_code_for
from agent.cli.main import EXIT_CODES_HELP
from agent.control.client import ControlPermissionDenied, DaemonNotRunning, RemoteError
from agent.errors import (
    ConfigError,
    DeviceException,
    DeviceTimeout,
    FramingError,
    OutboxError,
    RequestRefused,
    TransportError,
    WriteOutcomeUnknown,
    WriteRejected,
    WriteVerifyFailed,
)
from drivers.base import NotSupported


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError(["x"]), ExitCode.USAGE),
        (DaemonNotRunning("x"), ExitCode.NO_DAEMON),
        (DeviceTimeout("d", "no response"), ExitCode.NO_ANSWER),
        (DeviceException("d", 3, 2), ExitCode.REFUSED),
        (WriteRejected("d", "p", "read-only"), ExitCode.REFUSED),
        (WriteVerifyFailed("x"), ExitCode.REFUSED),
        (NotSupported("x"), ExitCode.UNAVAILABLE),
        (ControlPermissionDenied("x"), ExitCode.PERMISSION),
        (PermissionError(13, "denied"), ExitCode.PERMISSION),
        (TransportError("x"), ExitCode.FAILED),
        (OutboxError("x"), ExitCode.FAILED),
        (CliError("x", ExitCode.NO_ANSWER), ExitCode.NO_ANSWER),
        (WriteOutcomeUnknown("d", "no response"), ExitCode.OUTCOME_UNKNOWN),
        (FramingError("d", "reply of another unit"), ExitCode.NO_ANSWER),
        (RequestRefused("read to unit 0"), ExitCode.USAGE),
    ],
)
def test_local_errors(error: BaseException, code: ExitCode) -> None:
    assert exit_code_for(error) == code


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("DeviceTimeout", ExitCode.NO_ANSWER),
        ("DeviceException", ExitCode.REFUSED),
        ("WriteRejected", ExitCode.REFUSED),
        ("NotSupported", ExitCode.UNAVAILABLE),
        ("CommandError", ExitCode.USAGE),
        ("BadRequest", ExitCode.USAGE),
        ("UplinkError", ExitCode.FAILED),
        ("SomethingNew", ExitCode.FAILED),
        ("WriteOutcomeUnknown", ExitCode.OUTCOME_UNKNOWN),
    ],
)
def test_errors_answered_by_the_daemon_map_by_kind(kind: str, code: ExitCode) -> None:
    assert exit_code_for(RemoteError(kind, "message")) == code


def test_every_code_is_documented() -> None:
    doc = exit_codes.__doc__ or ""
    for code in ExitCode:
        assert f"| {code.value} |" in doc, code
        assert f"{code.value} " in EXIT_CODES_HELP, code
