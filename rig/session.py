"""A rig session: resolve and load the scenarios, run each (short/soak/full), write every report."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console

from agent.cli.exit_codes import ExitCode
from agent.errors import ConfigError, EdgepostError
from rig.catalogue import resolve
from rig.report.console import print_summary
from rig.report.html import write_html
from rig.report.json_out import write_json
from rig.report.junit import write_junit
from rig.results import RunResult
from rig.runner import run_scenario
from rig.scenario.load import load_scenario
from rig.scenario.model import Scenario


def run_session(refs: list[str], *, short: bool, soak_hours: float | None, ci_only: bool, out: Path,
                seed: int | None, keep_workdir: bool, jobs: int = 1) -> int:
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        scenarios = [load_scenario(path) for path in resolve(refs)]
    except ConfigError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"edgepost: error: {problem}\n")
        return int(ExitCode.USAGE)
    mode = "soak" if soak_hours else ("short" if short else "full")
    out.mkdir(parents=True, exist_ok=True)
    runs: list[Scenario] = []
    for scenario in scenarios:
        if ci_only and not scenario.ci.enabled:
            console.print(f"[yellow]{scenario.name}: not in CI ({scenario.ci.reason})[/]")
            continue
        if seed is not None:
            scenario = scenario.model_copy(update={"seed": seed})
        if soak_hours:
            scenario = scenario.soaked(soak_hours)
        elif short:
            scenario = scenario.shortened()
        runs.append(scenario)
    results = _run_all(runs, out, mode, keep_workdir, jobs, console)
    if results:
        write_junit(results, out / "junit.xml")
        print_summary(results, console)
        console.print(f"JUnit XML: {out / 'junit.xml'}")
    return 0 if all(r.passed for r in results) else 1


def _run_all(runs: list[Scenario], out: Path, mode: str, keep_workdir: bool, jobs: int,
             console: Console) -> list[RunResult]:
    """Each scenario stands up its own pole (ptys, broker, agent on free ports), so several can run at
    once; with ``jobs`` > 1 each runs in its own process (one event loop and signal set per scenario)."""
    results: list[RunResult] = []
    for scenario in runs:
        console.print(f"[bold]{scenario.name}[/] ({mode}, {scenario.duration_s:.0f} s + settle): queued")
    if jobs == 1 or len(runs) < 2:
        for scenario in runs:
            results.append(_run_one(scenario, out / scenario.name, mode, keep_workdir))
            console.print(f"  {scenario.name} report: {out / scenario.name / 'report.html'}")
        return results
    # forkserver: a clean interpreter per worker, not a fork of a process that may hold threads
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_run_one, scenario, out / scenario.name, mode, keep_workdir) for scenario in runs]
        for scenario, future in zip(runs, futures, strict=True):
            results.append(future.result())
            console.print(f"  {scenario.name} report: {out / scenario.name / 'report.html'}")
    return results


# standing the pole up, starting the agent, stopping it and the checks, beyond the timeline and settle
STAND_UP_AND_DOWN_S = 300.0


async def _bounded(scenario: Scenario, work: Path, mode: str) -> RunResult:
    """A scenario that outlives its timeline, settle and a generous stand-up bound is a hang of the rig
    or the agent: it fails with what it left behind instead of holding CI until CI is killed."""
    if mode == "soak":
        return await run_scenario(scenario, work, mode)
    limit = scenario.duration_s + scenario.expect.settle_s + STAND_UP_AND_DOWN_S
    try:
        async with asyncio.timeout(limit):
            return await run_scenario(scenario, work, mode)
    except TimeoutError:
        raise ScenarioHung(f"{scenario.name} did not finish in {limit:.0f} s (timeline {scenario.duration_s:.0f} s, "
                           f"settle {scenario.expect.settle_s:.0f} s): see agent.log") from None


class ScenarioHung(EdgepostError):
    pass


def _run_one(scenario: Scenario, out: Path, mode: str, keep_workdir: bool) -> RunResult:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"edgepost-rig-{scenario.name}-"))
    try:
        result = asyncio.run(_bounded(scenario, work, mode))
    except EdgepostError as exc:
        now = time.time()
        result = RunResult(scenario.name, scenario.description, scenario.group, mode, scenario.seed, now, now,
                           source=str(scenario.source or ""), workdir=str(work), error=str(exc))
    finally:
        for name in ("agent.log", "config.yaml"):
            if (work / name).exists():
                shutil.copy(work / name, out / name)
        if not keep_workdir:
            shutil.rmtree(work, ignore_errors=True)
    write_json(result, out / "results.json")
    write_html(result, out / "report.html")
    return result
