"""``edgepost rig``: run scenarios, list the shipped ones, check files. Mounted into ``edgepost`` through
the ``edgepost.cli`` entry point; heavy imports wait until a command runs (every ``edgepost`` call
loads this module)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Hardware-in-the-loop rig: stand up a pole, inject faults, check the promises.",
                  no_args_is_help=True)


@app.command("run")
def run(
    scenarios: Annotated[list[str], typer.Argument(help="scenario files, directories, or shipped names")],
    short: Annotated[bool, typer.Option("--short", help="compressed times (the CI version)")] = False,
    soak: Annotated[float | None, typer.Option("--soak", help="hours: repeat the timeline, sample every 10 s")] = None,
    ci: Annotated[bool, typer.Option("--ci", help="skip scenarios marked ci: {enabled: false}")] = False,
    out: Annotated[Path, typer.Option("--out", help="where results.json, report.html, junit.xml go")] = Path(
        "rig-results"),
    seed: Annotated[int | None, typer.Option("--seed", help="override the scenarios' seeds")] = None,
    keep_workdir: Annotated[bool, typer.Option("--keep-workdir", help="keep ptys/state/broker dirs")] = False,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=1, max=16, help="scenarios at once, each in its own process (own pole, broker, agent)"
    )] = 1,
) -> None:
    """Run scenarios; exit 0 when every expectation held, 1 otherwise, 2 for an invalid scenario."""
    from rig.session import run_session

    code = run_session(scenarios, short=short, soak_hours=soak, ci_only=ci, out=out, seed=seed,
                       keep_workdir=keep_workdir, jobs=jobs)
    raise typer.Exit(code)


@app.command("list")
def list_scenarios() -> None:
    """The shipped scenarios: name, group, whether CI runs them, and what they prove."""
    from rig.catalogue import shipped
    from rig.scenario.load import load_scenario

    for path in shipped():
        scenario = load_scenario(path)
        ci = "ci" if scenario.ci.enabled else f"not in ci: {scenario.ci.reason}"
        sys.stdout.write(f"{scenario.name:<24} {scenario.group:<10} {ci}\n    {scenario.description}\n")


@app.command("check")
def check(scenarios: Annotated[list[str], typer.Argument(help="scenario files, directories or shipped names")]) -> None:
    """Validate scenario files (file:line errors) without running anything."""
    from rig.catalogue import resolve
    from rig.scenario.load import load_scenario

    for path in resolve(scenarios):
        scenario = load_scenario(path)
        sys.stdout.write(f"{path}: ok ({scenario.name}, {len(scenario.timeline)} timeline entries)\n")
