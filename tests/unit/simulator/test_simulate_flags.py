"""``edgepost simulate`` flags become a spec; bad flags are one clear line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from drivers.modbus.cli.simulate_cmd import app

PROFILE = """\
vendor: Acme
model: Meter
source: unit test
points:
  current: {table: input, address: 2, type: uint16, scale: 0.01}
"""


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "meter.yaml").write_text(PROFILE)
    return tmp_path


def test_flags_serve_devices_on_tcp_and_rtu_over_tcp(profiles: Path) -> None:
    result = CliRunner().invoke(app, [
        "--profiles-dir", str(profiles), "--device", "1:acme/meter", "--device", "4:acme/meter@1.2",
        "--tcp", "127.0.0.1:0", "--rtu-over-tcp", "127.0.0.1:0", "--fault", "4:slow:30",
        "--duration", "0.2",
    ])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("serving tcp://127.0.0.1:") and lines[0].endswith("(socket): 1=acme/meter, 4=acme/meter")
    assert "(rtu): 1=acme/meter, 4=acme/meter" in lines[1]
    assert lines[2] == "ready"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tcp", "127.0.0.1:0"], "give at least one --device UNIT:PROFILE"),
        (["--device", "1:acme/meter"], "give --port, --tcp or --rtu-over-tcp"),
        (["--device", "x:acme/meter", "--tcp", "127.0.0.1:0"], "--device 'x:acme/meter': expected UNIT:PROFILE"),
        (["--device", "1:acme/meter", "--tcp", "127.0.0.1:0", "--fault", "2:silent"],
         "--fault for unit(s) [2] that no --device simulates"),
        (["--device", "1:acme/meter", "--tcp", "127.0.0.1:0", "--fault", "1:sleepy"],
         "buses[0].devices[0].faults: unknown fault 'sleepy'"),
        (["--device", "1:acme/metre", "--tcp", "127.0.0.1:0"], "unknown profile 'acme/metre'"),
        (["--device", "300:acme/meter", "--tcp", "127.0.0.1:0"], "buses[0].devices[0].unit"),
    ],
)
def test_bad_flags_exit_2_with_one_line_each(profiles: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["--profiles-dir", str(profiles), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
