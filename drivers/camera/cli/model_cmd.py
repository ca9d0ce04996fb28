"""``edgepost model``: check a model folder, benchmark it, install an update.

    edgepost model check text-direction           # a name under a models dir, a folder or a manifest path
    edgepost model bench blob-detector --frames 200
    edgepost model update NAME --file new.onnx --manifest manifest.yaml   # through the daemon when it runs

numpy/cv2/onnxruntime are imported inside the commands only: mounting this app costs nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.exit_codes import ExitCode
from agent.cli.state import state_of
from agent.errors import ModelError

app = typer.Typer(help="ONNX models: check, bench, update (through the running daemon).", no_args_is_help=True)

ModelsDir = Annotated[
    Path | None, typer.Option("--models-dir", help="searched first (then /var/lib/edgepost/models, bundled models/)")
]


def _fail(exc: BaseException, code: ExitCode = ExitCode.FAILED) -> typer.Exit:
    problems = getattr(exc, "problems", None) or [str(exc)]
    for problem in problems:
        sys.stderr.write(f"error: {problem}\n")
    return typer.Exit(int(code))


def _exit_code(exc: ModelError) -> ExitCode:
    from drivers.camera.inference.errors import ManifestError, ModelNotFound

    return ExitCode.USAGE if isinstance(exc, ManifestError | ModelNotFound) else ExitCode.FAILED


@app.command("check")
def check(
    model: Annotated[str, typer.Argument(help="model name, model folder or manifest.yaml path")],
    models_dir: ModelsDir = None,
) -> None:
    """Validate the manifest, verify sha256, load the model and run its self-test."""
    from drivers.camera.inference.manifest import load_manifest
    from drivers.camera.inference.runner import ModelRunner
    from drivers.camera.inference.selftest import run_self_test
    from drivers.camera.inference.store import find_manifest

    try:
        loaded = load_manifest(find_manifest(model, models_dir))
        runner = ModelRunner.load(loaded)
        detections = run_self_test(runner)
    except ModelError as exc:
        raise _fail(exc, _exit_code(exc)) from None
    spec = runner.manifest.input
    sys.stdout.write(
        f"ok {runner.name} ({loaded.path}): sha256 {runner.sha256[:16]}, {runner.manifest.decoder.type} "
        f"{spec.layout} {list(spec.shape)} {spec.color}, {len(runner.labels)} labels, "
        f"batch {'dynamic' if runner.batch_dynamic else 'fixed'}, warm-up {runner.warmup_s * 1e3:.0f} ms, "
        f"self-test {len(detections)} detections, licence {runner.manifest.licence}\n"
    )


def _bench_frames(width: int, height: int, count: int) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8) for _ in range(min(count, 16))]


async def _bench_pool(model: str, models_dir: Path | None, frames: list[Any], count: int, threads: int) -> list[float]:
    from drivers.camera.inference.config import InferenceConfig
    from drivers.camera.inference.pool import SessionPool

    pool = SessionPool(models_dir=models_dir)
    try:
        handle = await pool.acquire(InferenceConfig(model=model, intra_op_threads=threads))
        latencies: list[float] = []
        for i in range(count):
            started = time.perf_counter()
            await handle.detect(frames[i % len(frames)])
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        await pool.close()


@app.command("bench")
def bench(
    model: Annotated[str, typer.Argument(help="model name, model folder or manifest.yaml path")],
    frames: Annotated[int, typer.Option("--frames", min=1, help="frames to run")] = 100,
    width: Annotated[int, typer.Option("--width", min=8, help="frame width")] = 640,
    height: Annotated[int, typer.Option("--height", min=8, help="frame height")] = 360,
    threads: Annotated[int, typer.Option("--threads", min=0, help="intra-op threads, 0: default")] = 0,
    models_dir: ModelsDir = None,
) -> None:
    """Frames through the full runtime (preprocess + session pool + decode): fps and latency."""
    images = _bench_frames(width, height, frames)
    try:
        latencies = asyncio.run(_bench_pool(model, models_dir, images, frames, threads))
    except ModelError as exc:
        raise _fail(exc, _exit_code(exc)) from None
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    sys.stdout.write(
        f"{model}: {frames} frames {width}x{height}, {len(latencies) / sum(latencies):.1f} fps, "
        f"latency p50 {statistics.median(latencies) * 1e3:.2f} ms p95 {p95 * 1e3:.2f} ms\n"
    )


@app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="model name (its folder; what the cameras' inference.model says)")],
    file: Annotated[Path, typer.Option("--file", exists=True, dir_okay=False, help="the new .onnx file")],
    manifest: Annotated[Path, typer.Option("--manifest", exists=True, dir_okay=False, help="its manifest.yaml")],
    models_dir: Annotated[
        Path | None,
        typer.Option("--models-dir", help="without a daemon: install here (default: where the config's cameras "
                     "load the model from, else /var/lib/edgepost/models)"),
    ] = None,
) -> None:
    """Verify, self-test and atomically install a new model version; the old one stays on any failure.

    With the daemon running, the update goes through it: installed where its cameras load the model
    from (their inference.models_dir) and swapped into them at once, like the update_model command.
    Without a daemon, it is installed where the config's cameras load it from and used from the next start.
    """
    from drivers.camera.cli.local_models import install_locally, update_through_daemon

    state = state_of(ctx)
    file, manifest = file.resolve(), manifest.resolve()
    if state.daemon_running() and update_through_daemon(state, name, file, manifest, models_dir):
        return
    install_locally(state, name, file, manifest, models_dir)
