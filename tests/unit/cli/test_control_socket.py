"""The control socket against a fake Runtime: requests, errors, streaming, socket file hygiene."""

from __future__ import annotations

import asyncio
import socket
import stat
from pathlib import Path

import orjson
import pytest

from agent.control.client import ControlClient, DaemonNotRunning, RemoteError
from agent.control.protocol import (
    BufferPurgeRequest,
    BufferStatsRequest,
    ForgetLearnedRequest,
    ModelUpdateRequest,
    RawRequest,
    ReadPointRequest,
    ReloadRequest,
    StatusRequest,
    SyncNowRequest,
    WatchRequest,
    WritePointRequest,
)
from agent.control.server import ControlServer, ControlSocketError
from drivers.camera.cli.local_models import explain
from tests.unit.cli.fake_runtime import FakeRuntime


@pytest.fixture
async def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    runtime = FakeRuntime()
    path = tmp_path / "control.sock"
    server = ControlServer(runtime, path, group=None)  # type: ignore[arg-type]
    await server.start()
    yield runtime, path
    await server.stop()


async def test_socket_is_0660_and_removed_on_stop(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    server = ControlServer(FakeRuntime(), path, group=None)  # type: ignore[arg-type]
    await server.start()
    mode = path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o660
    await server.stop()
    assert not path.exists()


async def test_status_read_write_and_counters(served) -> None:  # type: ignore[no-untyped-def]
    runtime, path = served
    async with ControlClient(path) as client:
        status = await client.call(StatusRequest())
        assert status["uplink"] == {"state": "connected"}
        reading = await client.call(ReadPointRequest(device="meter1", point="voltage"))
        assert reading["value"] == 230.5 and reading["unit"] == "V" and reading["quality"] == "good"
        await client.call(WritePointRequest(device="meter1", point="setpoint", value=42))
        assert runtime.driver.points[("meter1", "setpoint")] == 42
        assert await client.call(SyncNowRequest()) is None
        assert runtime.synced == 1
        stats = await client.call(BufferStatsRequest())
        assert stats["records"] == 12 and stats["by_priority"] == {"telemetry": 12}
        assert await client.call(BufferPurgeRequest(device="meter1", before=5.0)) == {"purged": 7}
        assert runtime.purged == [("meter1", 5.0)]


async def test_typed_errors_travel_by_kind(served) -> None:  # type: ignore[no-untyped-def]
    _, path = served
    async with ControlClient(path) as client:
        with pytest.raises(RemoteError) as rejected:
            await client.call(WritePointRequest(device="meter1", point="voltage", value=1))
        assert rejected.value.kind == "WriteRejected"
        assert "read-only" in str(rejected.value)
        with pytest.raises(RemoteError) as timeout:
            await client.call(ReadPointRequest(device="silent", point="x"))
        assert timeout.value.kind == "DeviceTimeout"
        with pytest.raises(RemoteError) as unknown:
            await client.call(ReadPointRequest(device="nope", point="x"))
        assert unknown.value.kind == "CommandError"
        # the connection survives errors
        assert (await client.call(StatusRequest()))["gateway"] == "pole-test"


async def test_forget_learned_reaches_the_device_driver_which_may_not_offer_it(served) -> None:  # type: ignore[no-untyped-def]
    _, path = served
    async with ControlClient(path) as client:
        with pytest.raises(RemoteError) as unsupported:
            await client.call(ForgetLearnedRequest(device="meter1"))
        assert unsupported.value.kind == "NotSupported" and "forget_learned" in str(unsupported.value)
        with pytest.raises(RemoteError) as unknown:
            await client.call(ForgetLearnedRequest(device="nope"))
        assert unknown.value.kind == "CommandError"


async def test_raw_access_goes_through_the_driver_owning_the_bus(served) -> None:  # type: ignore[no-untyped-def]
    _, path = served
    async with ControlClient(path) as client:
        written = await client.call(
            RawRequest(bus="bus1", verb="write", args={"unit": 3, "table": "holding", "address": 10, "values": [7, 8]})
        )
        assert written == {"written": 2}
        values = await client.call(
            RawRequest(bus="bus1", verb="read", args={"unit": 3, "table": "holding", "address": 9, "count": 3})
        )
        assert values == [9, 7, 8]
        with pytest.raises(RemoteError) as unknown_bus:
            await client.call(RawRequest(bus="nobus", verb="read", args={"unit": 3, "table": "holding", "address": 0}))
        assert "bus1" in str(unknown_bus.value)
        matches = await client.call(RawRequest(bus="bus1", verb="identify", args={"unit": 1}))
        assert matches == [{"profile": "eastron/sdm120", "score": 1.0, "matched": 3, "checked": 3,
                            "firmware": "1.2", "firmware_in_range": None}]


async def test_raw_verbs_and_their_arguments_are_the_drivers_to_check(served) -> None:  # type: ignore[no-untyped-def]
    _, path = served
    async with ControlClient(path) as client:
        with pytest.raises(RemoteError) as unknown_verb:
            await client.call(RawRequest(bus="bus1", verb="erase", args={}))
        assert unknown_verb.value.kind == "NotSupported"
        assert "identify, read, write" in str(unknown_verb.value)
        with pytest.raises(RemoteError) as bad_args:
            await client.call(RawRequest(bus="bus1", verb="read", args={"unit": 3, "table": "attic", "address": 0}))
        assert bad_args.value.kind == "RequestRefused" and "table" in str(bad_args.value)


async def test_reload_reports_problems(served) -> None:  # type: ignore[no-untyped-def]
    runtime, path = served
    runtime.reload_problems = ["config.yaml:3:1 foo: unknown key"]
    async with ControlClient(path) as client:
        result = await client.call(ReloadRequest())
    assert result == {"reloaded": False, "problems": ["config.yaml:3:1 foo: unknown key"],
                      "config": str(runtime.config_path)}


async def test_watch_streams_records_and_filters_by_device(served) -> None:  # type: ignore[no-untyped-def]
    _, path = served
    async with ControlClient(path) as client:
        records = [r async for r in client.watch(WatchRequest())]
    assert [r["type"] for r in records] == ["reading", "event", "reading"]
    assert records[1]["kind"] == "device_state" and records[1]["data"] == {"state": "online"}
    async with ControlClient(path) as client:
        only = [r async for r in client.watch(WatchRequest(device="other"))]
    assert [r["device"] for r in only] == ["other"]


async def test_bad_request_lines_get_an_error_line(served) -> None:  # type: ignore[no-untyped-def]
    _, path = served
    import asyncio

    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b'{"op": "explode"}\nnot json\n{"op": "status"}\n')
    await writer.drain()
    answers = [orjson.loads(await reader.readline()) for _ in range(3)]
    writer.close()
    assert answers[0]["ok"] is False and answers[0]["error"]["kind"] == "BadRequest"
    assert answers[1]["ok"] is False and answers[1]["error"]["kind"] == "BadRequest"
    assert answers[2]["ok"] is True


async def test_client_without_daemon_raises_daemon_not_running(tmp_path: Path) -> None:
    with pytest.raises(DaemonNotRunning):
        async with ControlClient(tmp_path / "absent.sock"):
            pass


async def test_stale_socket_is_replaced_but_a_live_one_is_not_stolen(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # file left behind, nobody listening
    first = ControlServer(FakeRuntime(), path, group=None)  # type: ignore[arg-type]
    await first.start()
    second = ControlServer(FakeRuntime(), path, group=None)  # type: ignore[arg-type]
    with pytest.raises(ControlSocketError, match="already listening"):
        await second.start()
    async with ControlClient(path) as client:
        assert (await client.call(StatusRequest()))["gateway"] == "pole-test"
    await first.stop()


async def test_plain_file_in_the_way_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    path.write_text("not a socket")
    with pytest.raises(ControlSocketError, match="not a socket"):
        await ControlServer(FakeRuntime(), path, group=None).start()  # type: ignore[arg-type]


async def test_socket_gets_the_configured_group(tmp_path: Path) -> None:
    import grp
    import os

    candidates = [g for g in grp.getgrall() if g.gr_gid != os.getgid()]
    if os.geteuid() != 0 or not candidates:
        pytest.skip("needs root and a second group to chown to")
    group = candidates[0]
    path = tmp_path / "c.sock"
    server = ControlServer(FakeRuntime(), path, group=group.gr_name)  # type: ignore[arg-type]
    await server.start()
    assert path.stat().st_gid == group.gr_gid
    await server.stop()


async def test_missing_group_keeps_the_socket_usable(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    server = ControlServer(FakeRuntime(), path, group="no-such-group-h8")  # type: ignore[arg-type]
    await server.start()
    async with ControlClient(path) as client:
        assert (await client.call(StatusRequest()))["gateway"] == "pole-test"
    await server.stop()


async def test_watch_ends_its_subscription_when_the_client_hangs_up(tmp_path: Path) -> None:
    import asyncio

    closed = asyncio.Event()

    class EndlessRuntime(FakeRuntime):
        async def subscribe(self):  # type: ignore[no-untyped-def,override]
            try:
                yield self.records[0]
                await asyncio.Event().wait()  # no more records for a long time
            finally:
                closed.set()

    path = tmp_path / "c.sock"
    server = ControlServer(EndlessRuntime(), path, group=None)  # type: ignore[arg-type]
    await server.start()
    async with ControlClient(path) as client:
        async for record in client.watch(WatchRequest()):
            assert record["device"] == "meter1"
            break
    await asyncio.wait_for(closed.wait(), 10)
    await server.stop()


async def test_model_update_no_running_driver_runs_is_not_supported(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The CLI installs such a model itself: it needs to tell this answer from a failed update."""
    _, path = served
    (tmp_path / "y.onnx").write_bytes(b"model")
    (tmp_path / "manifest.yaml").write_text("name: yolo\n")
    request = ModelUpdateRequest(model="yolo", file=str(tmp_path / "y.onnx"), manifest=str(tmp_path / "manifest.yaml"))
    async with ControlClient(path) as client:
        with pytest.raises(RemoteError) as nobody:
            await client.call(request)
        assert nobody.value.kind == "NotSupported" and "no running driver" in str(nobody.value)
        (tmp_path / "y.onnx").unlink()
        with pytest.raises(RemoteError) as missing:  # a file the daemon cannot see: a plain failure
            await client.call(request)
        assert missing.value.kind == "CommandError" and str(tmp_path / "y.onnx") in str(missing.value)
    # what the CLI makes of it: one line saying why a file the technician has is invisible to the service
    (line,) = explain("yolo", str(missing.value))
    assert line.startswith(f"model_update_failed yolo: the running daemon cannot see {tmp_path / 'y.onnx'} (")
    assert "own /tmp and no /home" in line


async def test_model_update_paths_must_be_absolute(served) -> None:  # type: ignore[no-untyped-def]
    _, path = served
    line = b'{"op": "model_update", "model": "yolo", "file": "y.onnx", "manifest": "/tmp/manifest.yaml"}\n'
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(line)
    answer = orjson.loads(await reader.readline())
    writer.close()
    assert answer["ok"] is False and answer["error"]["kind"] == "BadRequest"
    assert "file" in answer["error"]["message"] and "absolute" in answer["error"]["message"]
