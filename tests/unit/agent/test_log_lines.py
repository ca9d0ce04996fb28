"""One structured line per event whoever logs it; frames budgeted; journald recognised by its stream."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from agent import frame_log
from agent.frame_log import FrameBudget, library_frame
from agent.log_format import StructuredFormatter, under_journald
from agent.log_setup import FRAME_DUMPING_LIBRARIES, LineGate
from agent.logs import log_event


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[io.StringIO, LineGate]]:
    """The root logger writing through the daemon's gate and formatter into a buffer.

    A CLI command run in-process earlier (``configure(quiet_libraries=True)``) leaves pymodbus' logger at
    CRITICAL, a Modbus TCP transport made earlier leaves its repeat-folding filter (real time, 300 s) on
    ``pymodbus.logging``, and earlier frames may have spent the process-wide frame budget: all are reset
    here, so the gate alone is under test.
    """
    monkeypatch.setattr(frame_log, "_budget", FrameBudget())
    libraries = [logging.getLogger(name) for name in FRAME_DUMPING_LIBRARIES]
    library_levels = [library.level for library in libraries]
    for library in libraries:
        library.setLevel(logging.NOTSET)  # setLevel, not the attribute: it clears the loggers' level caches
    dumper = logging.getLogger("pymodbus.logging")
    monkeypatch.setattr(dumper, "filters", [])
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    gate = LineGate(rate_limit_s=60.0, level=logging.INFO)
    handler.setFormatter(StructuredFormatter("logfmt", timestamps=False))
    handler.addFilter(gate)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    try:
        yield out, gate
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for library, library_level in zip(libraries, library_levels, strict=True):
            library.setLevel(library_level)
        frame_log.enable(False)


def test_a_library_message_with_a_traceback_is_one_line(captured: tuple[io.StringIO, LineGate]) -> None:
    out, _ = captured
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("somelib").exception("it broke:\n  second line")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('level=error logger=somelib event=log msg="it broke:\\n  second line" traceback=')
    assert "ValueError: bad\\nthing" in lines[0]


def test_library_repeats_are_folded_with_a_count(captured: tuple[io.StringIO, LineGate]) -> None:
    out, gate = captured
    clock = [0.0]
    gate.limiter._clock = lambda: clock[0]
    for tid in range(5):
        logging.getLogger("pymodbus.logging").error(f"No response received for transaction {tid}")
    clock[0] = 61.0
    logging.getLogger("pymodbus.logging").error("No response received for transaction 9")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].endswith("transaction 9\" suppressed=4")


def test_our_events_keep_their_fields_and_json_has_the_head(captured: tuple[io.StringIO, LineGate]) -> None:
    out, _ = captured
    log_event(logging.getLogger("agent.test"), "device_state", device="m 1", event_="e", time="x")
    assert out.getvalue() == 'level=info logger=agent.test event=device_state device="m 1" event_=e time=x\n'
    record = logging.LogRecord("agent.test", logging.WARNING, __file__, 1, "event=pre rendered=1", None, None)
    assert StructuredFormatter("logfmt", timestamps=False).format(record) == (
        "level=warning logger=agent.test event=pre rendered=1"
    )
    json_line = StructuredFormatter("json", timestamps=True).format(record)
    data = orjson.loads(json_line)
    assert data["level"] == "warning" and data["event"] == "log" and data["msg"] == "event=pre rendered=1"
    assert data["time"].endswith("+00:00")


def test_pymodbus_frame_dumps_become_frame_events_only_when_frames_are_on(
    captured: tuple[io.StringIO, LineGate],
) -> None:
    out, _ = captured
    pymodbus = logging.getLogger("pymodbus.logging")
    pymodbus.debug("send: 0x1 0x3 0x0 0x0 0x0 0x2 0xc4 0xb")
    assert out.getvalue() == ""
    frame_log.enable(True)
    pymodbus.debug("send: 0x1 0x3 0x0 0x0 0x0 0x2 0xc4 0xb")
    pymodbus.debug("recv: 0x4 0x0 extra data: 0x1 0x3")
    pymodbus.debug("Processing: 0x1 0x3")  # the library's other debug chatter stays out at info level
    assert out.getvalue().splitlines() == [
        'level=debug logger=edgepost.frames event=frame link=pymodbus dir=tx len=8 hex="01 03 00 00 00 02 c4 0b"',
        'level=debug logger=edgepost.frames event=frame link=pymodbus dir=rx len=2 hex="04 00" pending="01 03"',
    ]


def test_log_frame_is_budgeted_per_link() -> None:
    clock = [0.0]
    budget = FrameBudget(rate=10.0, burst=3.0, clock=lambda: clock[0])
    assert [budget.take("bus1") for _ in range(5)] == [0, 0, 0, None, None]
    assert budget.take("bus2") == 0  # another link has its own budget
    clock[0] = 0.1  # one frame's worth of tokens
    assert budget.take("bus1") == 2  # gets through, and says how many were dropped
    assert budget.take("bus1") is None


def test_library_frame_ignores_other_lines() -> None:
    assert library_frame("pymodbus", "Processing: 0x1 0x3") is None
    assert library_frame("pymodbus", "extra: unexpected data: 0x1 0x3") == (
        "frame", {"link": "pymodbus", "dir": "rx-pending", "len": 0, "hex": "", "pending": "01 03"}
    )


def test_journald_is_recognised_by_the_stream_it_handed_over(tmp_path: Path) -> None:
    with (tmp_path / "stream").open("w") as stream, (tmp_path / "other").open("w") as other:
        info = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert under_journald(stream, env)
        assert not under_journald(other, env)  # a unit whose output goes elsewhere, or a shell inside it
        assert not under_journald(stream, {"INVOCATION_ID": "abc"})
        assert not under_journald(stream, {"JOURNAL_STREAM": "garbage"})
    record = logging.LogRecord("agent.x", logging.ERROR, __file__, 1, "boom", None, None)
    assert StructuredFormatter("logfmt", timestamps=False, syslog_prefix=True).format(record) == (
        "<3>level=error logger=agent.x event=log msg=boom"
    )
