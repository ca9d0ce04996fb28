"""Questions before a write that could hurt: a value outside the profile's range, a comms setting.

A raw write skips the profile's checks, so when the profile of the unit is known (``--profile``, or
the config's device at that unit on that bus) each register it lands on is checked: out of range
warns and needs ``--yes``; a comms setting (unit address, baud, parity) is asked about. A point
write to a comms setting is asked about too. Without a terminal to ask on, the answer is no.
"""

from __future__ import annotations

import sys

import typer

from agent.cli.exit_codes import CliError, ExitCode
from drivers.modbus.profile import Profile, Table
from drivers.modbus.write_safety import ConcernKind, comms_warning, is_comms, raw_write_concerns


def _warn(message: str) -> None:
    sys.stderr.write(f"edgepost: warning: {message}\n")


def _ask(question: str, yes: bool, refusal: str) -> None:
    if yes:
        return
    try:
        agreed = typer.confirm(question, default=False, err=True)
    except typer.Abort:  # end of input (a script, a pipe): nobody said yes
        agreed = False
    if not agreed:
        raise CliError(refusal, ExitCode.FAILED)


def guard_raw_write(
    profile: Profile | None, unit: int, table: Table, address: int, values: list[int], yes: bool
) -> None:
    """Warn about what ``values`` do to ``profile``'s points; ask (or need ``--yes``) when it matters."""
    if profile is None:
        return
    concerns = raw_write_concerns(profile, table, address, values)
    for concern in concerns:
        _warn(concern.message)
    if any(c.kind is ConcernKind.OUT_OF_RANGE for c in concerns) and not yes:
        raise CliError(
            f"not sent: outside {profile.id}'s range for that register "
            "(check the value, or add --yes to send it anyway)",
            ExitCode.FAILED,
        )
    comms = [c.point for c in concerns if c.kind is ConcernKind.COMMS]
    if comms:
        _ask(
            f"{', '.join(comms)} of unit {unit} is a communication setting: after this write the device may "
            "answer only at another unit address, baud rate or parity. Send it?",
            yes,
            "not sent: a communication setting was not confirmed (add --yes to send it without asking)",
        )


def guard_point_write(device: str, unit: int, profile: Profile, point: str, yes: bool) -> None:
    """Ask before a point write to a comms setting."""
    profile_point = profile.points.get(point)
    if profile_point is None or not is_comms(point, profile_point):
        return
    _warn(comms_warning(device, point, unit))
    _ask(
        f"Write {device}.{point}?",
        yes,
        "not sent: a communication setting was not confirmed (add --yes to send it without asking)",
    )
