"""``edgepost status`` against the real daemon in a 100-column terminal: nothing wider, no header cut,
times as "3 min ago", sizes in MiB/KiB, ratios in %."""

from __future__ import annotations

import re

import orjson
import pytest
from rich.cells import cell_len

from agent.cli.units import header
from tests.fixtures.edgepost_cli import clean_env, edgepost
from tests.integration.agent.conftest import Pole, seqs_of, wait_until
from tests.integration.agent.test_daemon_logs import start

pytestmark = [pytest.mark.network, pytest.mark.hardware, pytest.mark.slow]


def column_keys(node: object) -> set[str]:
    """Every key the status document has below its top level (the tables' headers and row names)."""
    keys: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            keys.add(str(key))
            keys |= column_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= column_keys(value)
    return keys


def test_status_fits_100_columns_with_whole_headers_and_human_units(pole: Pole) -> None:
    with pole.broker.collector("edgepost/#") as sub:
        start(pole, "run", "-c", str(pole.config))
        wait_until(lambda: len(seqs_of(sub)) >= 10, what="records upstream")
    # both devices read at least once, so every column has a value
    wait_until(lambda: '"last_read_ts": null' not in edgepost("status", "-c", str(pole.config), "--json").stdout,
               what="both devices read")
    done = edgepost("status", "-c", str(pole.config), env=clean_env(COLUMNS="100"))
    data = orjson.loads(edgepost("status", "-c", str(pole.config), "--json").stdout)
    assert pole.stop_agent() == 0
    assert done.returncode == 0, done.stderr
    text = done.stdout
    lines = text.splitlines()
    too_wide = [(cell_len(line), line) for line in lines if cell_len(line) > 100]
    assert not too_wide, too_wide
    assert "…" not in text  # rich's mark of a cut header or cell
    words = set(re.findall(r"[A-Za-z0-9.-]+", text))  # a table title keeps its key: learned_ranges
    for key in column_keys(data["status"]["drivers"]):
        if not key.isdigit():
            missing = [w for w in header(key).split() if w not in words]
            assert not missing, (key, missing)
    assert not re.search(r"\b20\d\d-\d\d-\d\d", text)  # no absolute timestamps to wrap
    assert re.search(r"\b(just now|\d+ s ago)\b", text)  # the devices' last read
    assert re.search(r"outbox: \d+ records?, .*(B|KiB|MiB) of \d+ MiB \(\d+%\)", text), lines[-3:]
    assert re.search(r"│ \d+% +│", text)  # the bus utilisation
