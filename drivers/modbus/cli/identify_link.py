"""Identification for ``probe`` and ``scan`` through the Modbus driver's ``identify`` module."""

from __future__ import annotations

import importlib
from typing import Any

from agent.cli.exit_codes import Unavailable
from agent.cli.state import CliState
from agent.control.handlers import to_json
from agent.records import JsonValue
from drivers.modbus.cli.local_bus import open_bus
from drivers.modbus.identify import score_basis


def _identify_module() -> Any:
    try:
        identify = importlib.import_module("drivers.modbus.identify")
    except ImportError as exc:
        raise Unavailable(f"device identification is not installed yet ({exc})") from None
    return identify


async def identify_local(bus_config: Any, unit: int) -> JsonValue:
    identify = _identify_module()
    from drivers.modbus.profiles import ProfileRegistry

    registry = ProfileRegistry.load()
    async with open_bus(bus_config) as queue:
        return to_json(await identify.identify(queue, unit, registry))


def print_matches(state: CliState, unit: int, matches: JsonValue) -> None:
    if not isinstance(matches, list) or not matches:
        state.console.print(f"unit {unit}: no profile matches")
        return
    for match in matches:
        if isinstance(match, dict):
            firmware = f", firmware {match['firmware']}" if match.get("firmware") else ""
            fits = " (firmware outside the profile's range)" if match.get("firmware_in_range") is False else ""
            score = match.get("score")
            score_text = f"{score:.2f}" if isinstance(score, float) else str(score)
            basis = match.get("matched"), match.get("checked")
            why = ""
            if isinstance(score, float) and isinstance(basis[0], int) and isinstance(basis[1], int):
                why = f": {score_basis(score, basis[0], basis[1])}"
            state.console.print(f"unit {unit}: {match.get('profile')} (score {score_text}{firmware}{why}){fits}")
        else:
            state.console.print(f"unit {unit}: {match}")
