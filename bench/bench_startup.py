"""Time-to-READY of the real ``edgepost run`` with a big outbox backlog (default 2 GiB).

systemd waits ``TimeoutStartSec=120`` for READY=1; the goal is under 10 s with a full 2 GiB outbox.
The script builds the backlog fast (executemany of realistic ~100-byte readings on the real schema),
then starts ``python -m agent.cli.main run`` (no drivers, uplink off) with a datagram socket standing
in for systemd's NOTIFY_SOCKET, and times Popen -> READY=1:

- **empty**: a fresh state directory (the baseline: interpreter, imports, config, outbox creation);
- **clean**: the backlog, after a clean stop (SIGTERM) of the previous run;
- **unclean**: the backlog, after ``kill -9`` of the previous run (a crash or a power cut: the file's
  integrity is checked, in the background when it is big; the time until that check ended is printed).

Baselines measured on the same file in the same run: a full ``PRAGMA quick_check`` (what every start
used to run before READY) and ``SELECT COUNT(*) FROM records`` (the start-up's row count also scanned
the table). With ``--compare-src /work/main`` the same starts are timed with that checkout's agent
(``PYTHONPATH``), so before and after come from one run on one file. Medians of ``--runs``; ratios
against the empty start. The backlog is deleted at the end (``--keep`` keeps it). The file is in the
page cache (it was just written): on a cold SD card every full read is slower still.

Run: ``.venv/bin/python bench/bench_startup.py [--compare-src /work/main]``, ``--quick`` (256 MiB) or
``--smoke`` (16 MiB), ``--json out.json`` for the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.outbox.config import Durability  # noqa: E402
from agent.outbox.integrity import SYNC_CHECK_MAX_BYTES  # noqa: E402
from agent.outbox.schema import open_database  # noqa: E402
from tests.fixtures.notify import NotifyListener  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _results import Figure, Report, add_mode_args, mode_of  # noqa: E402

GIB = 1 << 30
CHUNK = 500_000  # rows per build transaction
START_TIMEOUT_S = 300.0
CHECKED = "event=outbox_integrity_checked"


def build_backlog(db: Path, size: int, row_bytes: int) -> int:
    """Fill ``db`` (the real schema) with telemetry rows until its pages reach ``size``; returns rows.

    Rows are generated inside SQLite (a recursive CTE feeding INSERT ... SELECT into the real
    ``records`` table): the same rows the outbox writes, ~10x faster than building them in Python."""
    conn, _ = open_database(db, Durability.PROCESS_SAFE)  # the real schema, at its current version
    conn.close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # building the fixture, not measuring it: no WAL copy,
    conn.execute("PRAGMA synchronous=OFF")  # no fsync
    conn.execute("PRAGMA cache_size=-262144")
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    body = orjson.dumps(("voltage_l1", "x" * max(1, row_bytes - 60), "V", "good")).decode()
    now = time.time()
    seq = 0
    chunk = max(1000, min(CHUNK, size // (2 * row_bytes)))  # a small backlog is not a whole chunk
    while int(conn.execute("PRAGMA page_count").fetchone()[0]) * page_size < size:
        conn.execute("BEGIN")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT ?1 + 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 + ?2) "
            "INSERT INTO records (seq, priority, kind, device, ts, accepted_at, body) "
            "SELECT i, 2, 0, 'meter' || (i % 64), ?3, ?3, ?4 FROM n",
            (seq, chunk, now, body),
        )
        seq += chunk
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (seq,))
        conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")  # as the outbox leaves it
    conn.close()
    return seq


def timed(fn: object, *args: object) -> float:
    t0 = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - t0


def quick_check(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        assert rows == [("ok",)], rows[:3]
    finally:
        conn.close()


def count_rows(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.execute("SELECT COUNT(*) FROM records").fetchone()
    finally:
        conn.close()


@dataclass
class Agent:
    """One checkout's ``edgepost run`` on one state directory."""

    name: str
    src: Path
    work: Path
    state: Path
    ready_s: dict[str, list[float]] = field(default_factory=dict)
    checked_s: list[float] = field(default_factory=list)

    def config(self) -> Path:
        path = self.work / f"config-{self.name}.yaml"
        path.write_text(
            "gateway: {id: bench-pole}\n"
            f"state_dir: {self.state}\n"
            "uplink: {enabled: false}\n"
            f"control: {{socket: {self.work / ('ctl-' + self.name)}, group: null}}\n"
            "outbox: {max_bytes: 4294967296}\n"
        )
        return path

    def start(self, case: str, notify: NotifyListener) -> tuple[subprocess.Popen[bytes], float]:
        """Start the agent and wait for READY=1; returns the process and its start time (monotonic)."""
        env = {**os.environ, **notify.env(watchdog_s=None), "PYTHONPATH": str(self.src)}
        log = (self.work / f"agent-{self.name}.log").open("ab")
        before = notify.count("READY=1")
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli.main", "-c", str(self.config()), "run"],
            cwd=self.src, env=env, stdout=log, stderr=log,
        )
        log.close()
        if not notify.wait_for("READY=1", timeout=START_TIMEOUT_S, after=before):
            proc.kill()
            raise RuntimeError(f"{self.name}: no READY=1 within {START_TIMEOUT_S} s; see {log.name}")
        ready_at = [t for t, line in notify.lines() if line == "READY=1"][before]
        self.ready_s.setdefault(case, []).append(ready_at - t0)
        return proc, t0

    def log_count(self, needle: str) -> int:
        log = self.work / f"agent-{self.name}.log"
        return log.read_text(errors="replace").count(needle) if log.exists() else 0

    def wait_checked(self, seen: int, t0: float) -> None:
        """An unclean start of this checkout checks the file in the background: time until it logged the end."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.log_count(CHECKED) > seen:
                self.checked_s.append(time.monotonic() - t0)
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no {CHECKED} within {START_TIMEOUT_S} s")


def stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    proc.send_signal(sig)
    proc.wait(120)


def run_cases(agent: Agent, runs: int, notify: NotifyListener, unclean: bool = True) -> None:
    for _ in range(runs):  # clean: the previous run stopped on SIGTERM
        proc, _ = agent.start("clean", notify)
        stop(proc, signal.SIGTERM)
    for _ in range(runs if unclean else 0):  # unclean: the previous run was killed
        proc, _ = agent.start("before-kill", notify)
        stop(proc, signal.SIGKILL)
        seen = agent.log_count(CHECKED)
        proc, t0 = agent.start("unclean", notify)
        big = (agent.state / "outbox.db").stat().st_size > SYNC_CHECK_MAX_BYTES  # smaller: checked before READY
        if agent.src == ROOT and big:  # a checkout without the background check (main) checked before READY
            agent.wait_checked(seen, t0)
        stop(proc, signal.SIGTERM)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--row-bytes", type=int, default=100, help="approximate stored size of one reading")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare-src", type=Path, help="another checkout (e.g. /work/main) timed the same way")
    parser.add_argument("--workdir", type=Path, help="where the backlog goes (default: a temp dir on /var/tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the backlog")
    add_mode_args(parser)  # --quick: 256 MiB, one run each; --smoke: 16 MiB
    args = parser.parse_args()
    mode = mode_of(args)
    size = int({"smoke": 1 / 64, "quick": 0.25, "full": args.size_gib}[mode] * GIB)
    runs = args.runs if mode == "full" else 1

    work = Path(tempfile.mkdtemp(prefix="bench-startup-", dir=args.workdir or "/var/tmp"))
    try:
        with NotifyListener() as notify:
            empty = Agent("empty", ROOT, work, work / "state-empty")
            for _ in range(runs):
                shutil.rmtree(empty.state, ignore_errors=True)
                proc, _ = empty.start("empty", notify)
                stop(proc, signal.SIGTERM)

            state = work / "state"
            state.mkdir()
            t0 = time.perf_counter()
            rows = build_backlog(state / "outbox.db", size, args.row_bytes)
            build_s = time.perf_counter() - t0
            db_bytes = (state / "outbox.db").stat().st_size
            print(f"backlog: {rows:,} rows, {db_bytes / GIB:.2f} GiB, built in {build_s:.1f} s", flush=True)
            check_s = [timed(quick_check, state / "outbox.db") for _ in range(runs)]
            count_s = [timed(count_rows, state / "outbox.db") for _ in range(runs)]

            agents = [Agent("this", ROOT, work, state)]
            if args.compare_src is not None:
                agents.append(Agent("compare", args.compare_src.resolve(), work, state))
            for agent in agents:
                run_cases(agent, runs, notify, unclean=mode != "smoke")  # smoke: the clean start only

        base = median(empty.ready_s["empty"])
        print(f"\ntime to READY=1, median of {runs} (ratio to the empty-outbox start in the same run)")
        print(f"  empty outbox (baseline)            {base:7.2f} s")
        print(f"  PRAGMA quick_check, same file      {median(check_s):7.2f} s  ({median(check_s) / base:5.1f}x)")
        print(f"  SELECT COUNT(*), same file         {median(count_s):7.2f} s  ({median(count_s) / base:5.1f}x)")
        for agent in agents:
            label = f"{agent.name} ({agent.src})"
            for case in (c for c in ("clean", "unclean") if c in agent.ready_s):
                value = median(agent.ready_s[case])
                print(f"  {label:34.34s} {case:8s}{value:7.2f} s  ({value / base:5.1f}x)")
            if agent.checked_s:
                print(f"  {label:34.34s} unclean: background check done {median(agent.checked_s):6.2f} s after start")
        report = Report("bench_startup", mode, params={"backlog_bytes": db_bytes, "rows": rows, "runs": runs})
        this = agents[0]
        for case, floor in (("clean", 3.0), ("unclean", 4.0)):
            if case not in this.ready_s:
                continue
            value = median(this.ready_s[case])
            report.add(Figure(
                id=f"startup.{case}", title=f"edgepost run to READY=1 with a {db_bytes / GIB:.2f} GiB outbox, after "
                f"{'a clean stop' if case == 'clean' else 'kill -9'}", value=value, unit="s", baseline=base,
                baseline_title="the same start with an empty outbox", better="lower",
                goal="< 10 s (2 GiB)" if case == "clean" else None,
                goal_met=value < 10 if case == "clean" and mode == "full" else None, floor=floor,
                runs=this.ready_s[case]))
        report.write(args.json)
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
