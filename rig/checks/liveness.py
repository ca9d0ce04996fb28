"""The agent is alive and answering at the end, nothing is stuck in its outbox, every command got an
answer, every injected fault met the agent's own reaction, and the broker saw decodable batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rig.checks.result import CheckResult, limited
from rig.faults.context import SentCommand
from rig.observe.faultlog import FaultRecord
from rig.observe.upstream import Upstream
from rig.pole.agent_process import Exit


@dataclass(frozen=True)
class FinalState:
    status_exit: int | None  # `edgepost status` exit code at the end (None: not run)
    status_output: str
    crashes: Sequence[Exit]  # exits the rig did not cause
    drained: bool  # every seq up to the settle point accounted for, in time
    drain_detail: str
    stop_exit: int | None  # the final SIGTERM's exit code (None: hung)


def check_alive(final: FinalState) -> CheckResult:
    problems = [f"the agent exited on its own with {c.code}" for c in final.crashes]
    if final.status_exit != 0:
        problems.append(f"`edgepost status` exited {final.status_exit}: {final.status_output[-300:]}")
    if final.stop_exit != 0:
        problems.append("the final SIGTERM " + ("hung" if final.stop_exit is None else f"exited {final.stop_exit}"))
    return CheckResult("agent.alive", not problems,
                       "alive, answering status, clean stop" if not problems else "; ".join(problems), problems)


def check_drained(final: FinalState) -> CheckResult:
    return CheckResult("outbox.drained", final.drained, final.drain_detail)


def check_commands(up: Upstream, sent: Sequence[SentCommand]) -> CheckResult:
    if not sent:
        return CheckResult("commands.answered", None, "no downlink command sent")
    answers: dict[str, list[dict[str, object]]] = {}
    for _, result in up.results:
        answers.setdefault(str(result.get("id")), []).append(result)
    problems = []
    offline = 0
    for command in sent:
        got = answers.get(str(command.id), [])
        if not got and up.online_at(command.t) is not True:
            offline += 1  # sent while the agent was away (or at the edge): its clean session never got it
            continue
        if not got:
            problems.append(f"{command.id}: no answer")
        elif command.expect_ok is not None and bool(got[0].get("ok")) != command.expect_ok:
            answer = got[0]
            problems.append(f"{command.id}: ok={answer.get('ok')} ({answer.get('code')}), "
                            f"expected ok={command.expect_ok}")
    return CheckResult("commands.answered", not problems,
                       f"{len(sent)} commands with an id, {len(problems)} unanswered or wrongly answered, "
                       f"{offline} sent while the agent was offline (not expected)", limited(problems))


def check_fault_reactions(entries: Sequence[FaultRecord]) -> list[CheckResult]:
    out = []
    for i, entry in enumerate(entries):
        name = f"fault.{i + 1}.{entry.kind}"
        if entry.status == "skipped":
            out.append(CheckResult(name, None, f"skipped: {entry.detail}"))
        elif entry.status == "failed":
            out.append(CheckResult(name, False, entry.detail))
        else:
            out.append(CheckResult(name, not entry.problems, entry.detail, list(entry.problems)))
    return out


def check_delivery(up: Upstream, minimum: int) -> CheckResult:
    delivered = len({r.seq for r in up.records})
    problems = list(up.undecodable)
    ok = delivered >= minimum and not problems
    return CheckResult("upstream.delivered", ok,
                       f"{delivered} records delivered (at least {minimum} expected), "
                       f"{len(problems)} undecodable payloads",
                       limited(problems))
