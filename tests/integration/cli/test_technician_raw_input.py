"""Issue 12, the command line: what a technician types in raw mode is checked, and errors are one line.

The real ``edgepost`` script against ``edgepost simulate`` on a socat pty pair (``technician_line``).
Out-of-range values, addresses, counts and timeouts ended in pymodbus/struct/pydantic tracebacks;
``--address 0x3d`` (as datasheets print it) and ``write dimmer dim_1 -1`` were usage errors; an
exception reply read "function 0x03 answered exception 2"; an unknown point did not say which exist.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from agent.cli.exit_codes import ExitCode
from tests.integration.cli.technician_line import DIMMER_UNIT, METER_UNIT, Bench, bench, one_line_error

pytestmark = pytest.mark.hardware


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    with bench(tmp_path_factory.mktemp("raw")) as made:
        yield made


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["write", "--unit", "3", "--address", "7", "70000"], "a register holds 0..65535"),
        (["write", "--unit", "3", "--address", "7", "-5"], "a register holds 0..65535"),
        (["read", "--unit", "3", "--address", "70000"], "--address must be 0..65535"),
        (["read", "--unit", "3", "--address", "-1"], "--address must be 0..65535"),
        (["write", "--unit", "3", "--address", "-1", "5"], "--address must be 0..65535"),
        (["read", "--unit", "3", "--address", "0", "--count", "200"], "1..125 holding registers"),
        (["read", "--unit", "3", "--address", "65535", "--count", "2"], "run past the last address"),
        (["read", "--unit", "300", "--address", "0"], "--unit must be 1..247"),
    ],
    ids=["value-70000", "value-minus-5", "address-70000", "address-minus-1", "write-address-minus-1",
         "count-200", "past-the-end", "unit-300"],
)
def test_raw_mode_input_is_refused_in_one_line(line: Bench, args: list[str], says: str) -> None:
    done = line.raw(*args)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert says in one_line_error(done)


def test_a_refused_raw_write_never_reaches_the_device(line: Bench) -> None:
    before = line.raw("--json", "read", "--unit", str(DIMMER_UNIT), "--address", "7")
    assert before.returncode == 0, before.stderr
    assert line.raw("write", "--unit", str(DIMMER_UNIT), "--address", "7", "70000").returncode == ExitCode.USAGE
    after = line.raw("--json", "read", "--unit", str(DIMMER_UNIT), "--address", "7")
    assert orjson.loads(after.stdout)["values"] == orjson.loads(before.stdout)["values"]


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_a_timeout_that_cannot_be_waited_is_refused(line: Bench, timeout: str) -> None:
    done = line.run("read", "--port", line.port, "--unit", "3", "--address", "0", "--timeout", timeout)
    assert done.returncode == ExitCode.USAGE
    assert "--timeout" in one_line_error(done)


def test_hex_addresses_as_datasheets_print_them(line: Bench) -> None:
    # the dimmer's unit address register is 0x4000 in its manual; decimal 16384 is the same register
    hexed = line.raw("--json", "read", "--unit", str(DIMMER_UNIT), "--address", "0x4000")
    assert hexed.returncode == 0, hexed.stderr
    decimal = line.raw("--json", "read", "--unit", str(DIMMER_UNIT), "--address", "16384")
    assert orjson.loads(hexed.stdout)["values"] == orjson.loads(decimal.stdout)["values"] == [1]
    assert orjson.loads(hexed.stdout)["address"] == 0x4000
    # a raw write takes the hex address too, and the value lands there
    assert line.raw("write", "--unit", str(DIMMER_UNIT), "--address", "0x3", "0x09c4").returncode == 0
    back = line.raw("--json", "read", "--unit", str(DIMMER_UNIT), "--address", "3")
    assert orjson.loads(back.stdout)["values"] == [0x09C4]


def test_a_word_that_is_no_address_says_what_is_expected(line: Bench) -> None:
    done = line.raw("read", "--unit", "3", "--address", "0x4g")
    assert done.returncode == ExitCode.USAGE
    assert "0x" in one_line_error(done)


def test_negative_point_values_need_no_double_dash(line: Bench) -> None:
    """``write dimmer dim_1 -1`` reached the profile's range check, not "No such option: -1"."""
    done = line.with_config("write", "dimmer", "dim_1", "-1")
    assert done.returncode == ExitCode.REFUSED, done.stderr
    assert "below the minimum 0" in one_line_error(done)
    # an option the command does not have is still named as one
    wrong = line.with_config("write", "dimmer", "dim_1", "2", "--verfy")
    assert wrong.returncode == ExitCode.USAGE and "--verfy" in one_line_error(wrong)


def test_exception_replies_in_plain_words(line: Bench) -> None:
    done = line.raw("read", "--unit", str(METER_UNIT), "--address", "40000", "--table", "input")
    assert done.returncode == ExitCode.REFUSED
    message = one_line_error(done)
    assert "illegal data address (exception 2)" in message
    assert "answered exception" not in message and "0x04" not in message


def test_an_unknown_point_lists_the_valid_ones(line: Bench) -> None:
    done = line.with_config("read", "dimmer", "dim_9")
    assert done.returncode != 0
    message = one_line_error(done)
    for name in ("dim_1", "dim_8", "modbus_address", "software_version"):
        assert name in message
    written = line.with_config("write", "dimmer", "dimm_1", "5")
    assert written.returncode == ExitCode.REFUSED
    assert "dim_1" in one_line_error(written) and "modbus_address" in written.stderr


def test_an_unknown_device_lists_the_configured_ones(line: Bench) -> None:
    done = line.with_config("read", "dimmmer", "dim_1")
    assert done.returncode == ExitCode.USAGE
    message = one_line_error(done)
    assert "dimmer" in message and "meter" in message

