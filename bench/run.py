"""Run every benchmark and keep the results as data: ``make bench`` (full) and ``make bench-smoke`` (CI).

    .venv/bin/python bench/run.py --mode full     # writes bench/results/<utc>-<commit>-full.json,
                                                 # copies it to bench/results/latest.json and
                                                 # renders the README's measured section from it
    .venv/bin/python bench/run.py --mode smoke    # every bench's short version; exits 1 when a
                                                 # bench fails or a ratio is 2x worse than its floor
    .venv/bin/python bench/run.py --mode quick --only bench_drain bench_live_latency

Each bench runs in its own process (``--smoke``/``--quick`` and ``--json PATH``); one results file
holds the machine, the commit, and every bench's figures with their same-run baselines. Benches that
report no figures (other owners') are run too and their output kept.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from _results import figure_from_dict

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
SMOKE_BUDGET_S = 90.0


@dataclass(frozen=True)
class Bench:
    name: str
    figures: bool = True  # takes --smoke/--quick/--json and reports figures
    smoke: tuple[str, ...] | None = ("--smoke",)  # None: not run in smoke mode
    quick: tuple[str, ...] = ("--quick",)
    full: tuple[str, ...] = ()
    timeout_s: float = 3600.0
    why_not_smoke: str = ""
    long_smoke: bool = False  # started first in smoke mode, so it does not finish last
    # full mode: runs beside the others from the start (P7's 1 h soak samples RSS every 10 s and
    # polls 8 devices once a second: ~0.03 core), so the run takes about an hour, not an hour more
    background_in_full: bool = False


# In the order of the goals (P1..P7), then the rest.
BENCHES: tuple[Bench, ...] = (
    Bench("bench_bus_utilisation", long_smoke=True),
    Bench("bench_tcp_scale", long_smoke=True),
    Bench("bench_pipeline"),
    Bench("bench_outbox_ingest"),
    Bench("bench_drain"),
    Bench("bench_live_latency", long_smoke=True),
    Bench("bench_inference_overhead"),
    Bench("bench_agent_rss", long_smoke=True, timeout_s=3 * 3600, background_in_full=True),
    Bench("bench_outbox_memory"),
    Bench("bench_startup", long_smoke=True),
    Bench("bench_uplink_encode"),
    Bench("bench_control_socket"),
    Bench("bench_camera_import"),
    Bench("bench_camera_latency"),
    Bench("bench_camera_motion", long_smoke=True),
    Bench("bench_camera_memory", long_smoke=True),
    Bench("bench_ffmpeg_log"),
    # another engineer's benches: run for their printed output
    Bench("bench_fleet_load", figures=False, smoke=(), quick=(), full=()),
    Bench("bench_reconnect_storm", figures=False, smoke=None, quick=("--gateways", "100"), full=(),
          why_not_smoke="a broker restart and a 10 s reconnect window; its correctness test runs in pytest"),
)


@dataclass
class Outcome:
    bench: str
    status: str  # ok | failed | timeout | skipped
    seconds: float = 0.0
    returncode: int | None = None
    report: dict[str, Any] | None = None
    output_tail: str = ""
    argv: list[str] = field(default_factory=list)


def known() -> dict[str, Bench]:
    """The table above, plus any bench_*.py it does not name (run with no arguments, output kept)."""
    table = {b.name: b for b in BENCHES}
    for path in sorted(BENCH.glob("bench_*.py")):
        if path.stem not in table:
            table[path.stem] = Bench(path.stem, figures=False, smoke=None, quick=(), full=(),
                                     why_not_smoke="not in bench/run.py's table yet")
    return {name: b for name, b in table.items() if (BENCH / f"{name}.py").is_file()}


def run_one(bench: Bench, mode: str, workdir: Path, echo: bool) -> Outcome:
    args = {"smoke": bench.smoke, "quick": bench.quick, "full": bench.full}[mode]
    if args is None:
        return Outcome(bench.name, "skipped", output_tail=bench.why_not_smoke)
    json_path = workdir / f"{bench.name}.json"
    argv = [sys.executable, str(BENCH / f"{bench.name}.py"), *args]
    if bench.figures:
        argv += ["--json", str(json_path)]
    started = time.perf_counter()
    log_path = workdir / f"{bench.name}.log"
    timed_out = threading.Event()
    with log_path.open("w") as log:
        # its own process group: a timeout also ends the brokers and simulators it started
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(bench.timeout_s, kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if echo:
                    sys.stdout.write(f"[{bench.name}] {line}")
                    sys.stdout.flush()
            proc.wait()
        finally:
            watchdog.cancel()
    if timed_out.is_set():
        return Outcome(bench.name, "timeout", time.perf_counter() - started, None, None, _tail(log_path), argv[1:])
    seconds = time.perf_counter() - started
    report = json.loads(json_path.read_text()) if json_path.is_file() else None
    status = "ok" if proc.returncode == 0 and (report is not None or not bench.figures) else "failed"
    return Outcome(bench.name, status, seconds, proc.returncode, report, _tail(log_path), argv[1:])


def _tail(path: Path, lines: int = 60) -> str:
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])


def machine() -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("pymodbus", "paho-mqtt", "onnxruntime", "opencv-python-headless", "pydantic", "orjson"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    try:
        out = subprocess.run([mosquitto, "-h"], capture_output=True, text=True, timeout=10).stdout
        versions["mosquitto"] = out.split("version", 1)[1].split()[0] if "version" in out else "?"
    except (OSError, subprocess.TimeoutExpired):
        versions["mosquitto"] = "missing"
    mem = 0
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "versions": versions,
        "load_avg_start": os.getloadavg(),
    }


def commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "sha": git("rev-parse", "HEAD"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "subject": git("log", "-1", "--format=%s"),
    }


def smoke_check(outcomes: list[Outcome]) -> list[str]:
    """What fails the smoke run: a bench that did not finish, or a ratio 2x worse than its floor."""
    problems: list[str] = []
    for outcome in outcomes:
        if outcome.status in ("failed", "timeout"):
            problems.append(f"{outcome.bench}: {outcome.status} (rc={outcome.returncode})")
        for data in (outcome.report or {}).get("figures", []):
            figure = figure_from_dict(data)
            verdict = figure.smoke_verdict()
            if verdict is not None:
                passed, reason = verdict
                print(f"  {'ok  ' if passed else 'FAIL'} {figure.id:42s} {reason}")
                if not passed:
                    problems.append(f"{figure.id}: {reason}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("full", "quick", "smoke"), default="full")
    parser.add_argument("--only", nargs="*", default=None, help="bench names (default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="benches at once (smoke default 3, else 1)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-render", action="store_true", help="full mode: leave README.md alone")
    args = parser.parse_args()
    table = known()
    names = args.only or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"no such bench: {', '.join(unknown)}")
    jobs = args.jobs or (3 if args.mode == "smoke" else 1)
    started_at = datetime.now(UTC)
    info = machine()
    measured = commit()  # the code measured: taken before the run, so a commit made meanwhile is not named
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgepost-bench-") as tmp:
        workdir = Path(tmp)
        echo = jobs == 1
        order = sorted(names, key=lambda n: not table[n].long_smoke) if args.mode == "smoke" else names
        beside = [n for n in order if args.mode == "full" and table[n].background_in_full]
        with ThreadPoolExecutor(max_workers=max(1, len(beside))) as side, \
                ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [side.submit(run_one, table[n], args.mode, workdir, echo) for n in beside]
            futures += [pool.submit(run_one, table[n], args.mode, workdir, echo) for n in order if n not in beside]
            outcomes = []
            for future in futures[len(beside):] + futures[:len(beside)]:
                outcome = future.result()
                outcomes.append(outcome)
                print(f"== {outcome.bench}: {outcome.status} in {outcome.seconds:.1f} s", flush=True)
                if not echo and outcome.status != "skipped":
                    print(outcome.output_tail, flush=True)
        outcomes.sort(key=lambda o: order.index(o.bench))
    elapsed = time.perf_counter() - started
    info["load_avg_end"] = os.getloadavg()
    results = {
        "schema": 1,
        "mode": args.mode,
        "started": started_at.isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "machine": info,
        "commit": measured,
        "benches": {o.bench: {"status": o.status, "seconds": round(o.seconds, 1), "returncode": o.returncode,
                              "argv": o.argv, "report": o.report, "output_tail": o.output_tail,
                              "beside_the_others": o.bench in beside}
                    for o in outcomes},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"{stamp}-{results['commit']['sha'][:8]}-{args.mode}.json"
    if args.mode == "smoke":
        path = args.out / "smoke-latest.json"
    path.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    print(f"results: {path} ({elapsed:.0f} s)")
    if args.mode == "full" and args.only is None:
        latest = args.out / "latest.json"
        shutil.copyfile(path, latest)
        print(f"results: {latest}")
        if not args.no_render:
            from render_readme import update_readme

            update_readme(latest, ROOT / "README.md")
            print("README.md: measured section rendered from it")
    failed = [o.bench for o in outcomes if o.status in ("failed", "timeout")]
    if args.mode == "smoke":
        print(f"smoke: floors are same-run ratios; a figure fails when 2x worse than its floor ({elapsed:.0f} s, "
              f"budget {SMOKE_BUDGET_S:.0f} s)")
        problems = smoke_check(outcomes)
        skipped = [f"{o.bench} ({o.output_tail})" for o in outcomes if o.status == "skipped"]
        if skipped:
            print(f"smoke: not run: {'; '.join(skipped)}")
        if problems:
            print("SMOKE FAILED:\n  " + "\n  ".join(problems))
            return 1
        print("smoke: passed")
        return 0
    if failed:
        print(f"benches that did not finish: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
