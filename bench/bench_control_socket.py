"""Control-socket request rate: ControlServer/ControlClient (pydantic-validated JSON lines, a status
answer from a fake Runtime) against a bare asyncio unix-socket line echo of the same bytes (baseline),
in the same process and run. Prints requests/s for both and their ratio (medians over repeats).

    .venv/bin/python bench/bench_control_socket.py [--smoke | --quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.control.client import ControlClient  # noqa: E402
from agent.control.protocol import StatusRequest  # noqa: E402
from agent.control.server import ControlServer  # noqa: E402
from tests.unit.cli.fake_runtime import FakeRuntime  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _results import Figure, Report, add_mode_args, mode_of  # noqa: E402


async def control_rate(path: Path, requests: int) -> float:
    server = ControlServer(FakeRuntime(), path, group=None)  # type: ignore[arg-type]
    await server.start()
    try:
        async with ControlClient(path) as client:
            started = time.perf_counter()
            for _ in range(requests):
                await client.call(StatusRequest())
            return requests / (time.perf_counter() - started)
    finally:
        await server.stop()


async def echo_rate(path: Path, requests: int, answer: bytes) -> float:
    """Baseline: the same request/answer sizes over a unix socket, no parsing or validation."""

    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline():
            writer.write(answer)
            await writer.drain()
        writer.close()
        served.set()

    server = await asyncio.start_unix_server(serve, path=path)
    try:
        reader, writer = await asyncio.open_unix_connection(path)
        line = StatusRequest().model_dump_json().encode() + b"\n"
        started = time.perf_counter()
        for _ in range(requests):
            writer.write(line)
            await writer.drain()
            await reader.readline()
        elapsed = time.perf_counter() - started
        writer.close()
        await writer.wait_closed()
        await served.wait()
        return requests / elapsed
    finally:
        server.close()
        await server.wait_closed()


async def main(args: argparse.Namespace) -> None:
    mode = mode_of(args)
    requests, repeats = {"smoke": (200, 3), "quick": (300, 3), "full": (3000, 7)}[mode]
    from agent.control.protocol import Response
    from agent.control.server import encode

    answer = encode(Response(ok=True, result=FakeRuntime().status()))
    ours: list[float] = []
    base: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            ours.append(await control_rate(Path(tmp) / f"c{i}.sock", requests))
            base.append(await echo_rate(Path(tmp) / f"e{i}.sock", requests, answer))
    ours_med, base_med = statistics.median(ours), statistics.median(base)
    print(f"control socket (status, validated): {ours_med:,.0f} requests/s (median of {repeats} x {requests})")
    print(f"baseline unix-socket line echo:     {base_med:,.0f} requests/s")
    print(f"ratio control/baseline:             {ours_med / base_med:.2f}")
    report = Report("bench_control_socket", mode, params={"requests": requests, "repeats": repeats})
    report.add(Figure(
        id="control.rate", title="control socket status requests (validated JSON lines)", value=ours_med,
        unit="requests/s", baseline=base_med, baseline_title="bare unix-socket line echo of the same bytes",
        runs=ours, floor=0.3))
    report.write(args.json)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_mode_args(parser)
    asyncio.run(main(parser.parse_args()))
