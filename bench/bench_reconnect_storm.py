"""Reconnect storm: N gateways (real ``Uplink`` instances, each with its own small outbox, spread over
several worker processes: bench/storm_gateways.py) against a real broker that restarts, with the
jittered reconnect (the uplink's defaults) and without it (every gateway retries at the same fixed
steps), alternating, ``--repeats`` times each. Per run:

- peak connects/s **counted by the broker** (its log's accepted CONNECTs of the storm's clients, in
  1-second bins of the broker's clock; bench/storm_brokers.py), and the same counted by the clients
  (their CONNACK times) for comparison;
- time from the broker's restart until every gateway is connected again, and until every gateway's
  backlog (the records accepted while the broker was down) is PUBACKed and deleted;
- every record checked upstream: a durable subscriber must see seq 1..2*records of every gateway
  (bench/storm_upstream.py); duplicates are counted.

The jittered run is meant to stay under ``uplink.reconnect_max_rate`` (``--rate``) with
``uplink.reconnect_fleet_size`` = ``--gateways``. Prints medians over the repeats, the ratios, the
machine's load, and with ``--plot`` writes connects/s over time (the broker's count; needs the
``rig`` extra's matplotlib: ``pip install -c requirements.lock -e '.[rig]'``).

Usage: python bench/bench_reconnect_storm.py [--gateways 1000] [--workers 4] [--rate 100]
[--records 20] [--down-s 2] [--repeats 3] [--broker mosquitto|nats] [--plot docs/reconnect-storm.png]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.uplink.config import UplinkConfig  # noqa: E402
from bench.storm_brokers import StormMosquitto, StormNats  # noqa: E402
from bench.storm_upstream import Upstream  # noqa: E402

CLIENT_PREFIX = "storm-"


class Worker:
    """One storm_gateways.py process and its latest status line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.status: dict[str, int] = {"connected": 0, "drained": 0, "acked": 0}
        self.times: dict[str, list[float]] = {"intended": [], "attempts": [], "connects": []}
        self.done = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, first: int, count: int, args: argparse.Namespace, ports: list[int],
                    config: dict[str, Any], log: Path) -> Worker:
        with log.open("ab") as stderr:  # aiomqtt's complaints about dropped connections, kept out of the report
            proc = await cls._spawn(first, count, args, ports, config, stderr)
        return cls(proc)

    @staticmethod
    async def _spawn(first: int, count: int, args: argparse.Namespace, ports: list[int], config: dict[str, Any],
                     stderr: Any) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bench" / "storm_gateways.py"), "--first", str(first), "--count", str(count),
            "--records", str(args.records), "--ports", ",".join(map(str, ports)), "--config", json.dumps(config),
            "--dial-threads", str(args.dial_threads),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr, limit=64 * 1024 * 1024)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            msg = json.loads(raw)
            if "connects" in msg:
                self.times = msg
            else:
                self.status = msg
        self.done.set()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.send("stop")
            try:
                await asyncio.wait_for(self.done.wait(), 60)
            except TimeoutError:
                self.proc.kill()
        await self.proc.wait()


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def total(workers: list[Worker], key: str) -> int:
    return sum(w.status[key] for w in workers)


def uplink_config(args: argparse.Namespace, jitter: bool) -> dict[str, Any]:
    """The gateways' uplink settings: defaults but for the fleet and rate under test (and ``--config``)."""
    wanted: dict[str, Any] = {"inflight": 4, "keepalive_s": 30, "puback_timeout_s": 30.0, "reconnect_jitter": jitter,
                              "reconnect_fleet_size": args.gateways, "reconnect_max_rate": args.rate,
                              **json.loads(args.config)}
    return {k: v for k, v in wanted.items() if k in UplinkConfig.model_fields}  # older code lacks some knobs


def bins(times: list[float]) -> dict[int, int]:
    """Counts per whole second of the clock that took the time."""
    return dict(collections.Counter(int(t) for t in times))


async def storm(args: argparse.Namespace, jitter: bool, workdir: Path) -> dict[str, Any]:
    broker: Any = StormNats(workdir, args.nats_kill) if args.broker == "nats" else StormMosquitto(workdir)
    config = uplink_config(args, jitter)
    window = UplinkConfig(**config).reconnect_window_s
    broker.start()
    upstream = await asyncio.to_thread(Upstream, broker.subscriber_port)
    per_worker = -(-args.gateways // args.workers)
    workers: list[Worker] = []
    gateways = [f"gw{i}" for i in range(args.gateways)]
    try:
        for first in range(0, args.gateways, per_worker):
            workers.append(await Worker.start(first, min(per_worker, args.gateways - first), args, broker.ports,
                                              config, workdir / f"worker-{first}.log"))
        await wait_for(lambda: total(workers, "drained") == args.gateways, args.timeout, "first drain")
        # A session shorter than the spread window counts as a failed attempt (agent/uplink/uplink.py).
        await asyncio.sleep(window if jitter else 0)
        load = os.getloadavg()
        hit = sum(1 for i in range(args.gateways) if broker.ports[i % len(broker.ports)] in broker.victims())
        killed = time.time()
        broker.stop()
        # With brokers left, the hit gateways move over at once: wait for the first to notice only.
        gone = hit if hit == args.gateways else 1
        await wait_for(lambda: total(workers, "connected") <= args.gateways - gone, 60, "disconnected")
        for w in workers:
            w.send("add")
        await asyncio.sleep(args.down_s)
        restart = time.time()
        broker.start()
        all_back = await wait_for(lambda: total(workers, "connected") == args.gateways, args.timeout, "all back")
        drained = await wait_for(lambda: total(workers, "drained") == args.gateways, args.timeout, "drain")
        with contextlib.suppress(TimeoutError):  # reported as missing records below
            await wait_for(lambda: upstream.missing(gateways, 2 * args.records) == 0, 60, "upstream")
        missing = upstream.missing(gateways, 2 * args.records)
    finally:
        for w in workers:
            await w.stop()
        upstream.close()
        broker.close()
    # From the restart (mosquitto's log has whole seconds: the kill's second still holds earlier connects),
    # or from the kill when nodes are left (nats --nats-kill one): gateways move before the restart.
    since = killed if hit < args.gateways else int(restart)
    at_broker = [t for _, t in broker.connects(CLIENT_PREFIX) if t >= since]
    arrivals = [t for _, t in broker.arrivals(CLIENT_PREFIX) if t >= since]
    at_clients = [t for w in workers for t in w.times["connects"] if t >= killed]
    attempts = [t for w in workers for t in w.times["attempts"] if t >= killed]
    intended = [t for w in workers for t in w.times["intended"] if killed <= t <= restart + all_back]
    broker_bins = bins(at_broker)
    return {"jitter": jitter, "window_s": window, "load": load, "restart": restart, "down_s": restart - killed,
            "peak_broker": max(broker_bins.values()), "peak_arrivals": max(bins(arrivals).values()),
            "peak_clients": max(bins(at_clients).values()),
            "peak_attempts": max(bins(attempts).values()), "peak_intended": max(bins(intended).values(), default=0),
            "connects_broker": len(at_broker), "connects_clients": len(at_clients),
            "all_back_s": all_back, "drained_s": all_back + drained, "missing": missing,
            "duplicates": upstream.duplicates(),
            "series": sorted((second - restart, n) for second, n in broker_bins.items()),
            "series_intended": sorted((second - restart, n) for second, n in bins(intended).items()),
            "series_arrivals": sorted((second - restart, n) for second, n in bins(arrivals).items())}


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    jittered = [r for r in runs if r["jitter"]]
    lockstep = [r for r in runs if not r["jitter"]]
    loads = [r["load"][0] for r in runs]
    print(f"{args.gateways} gateways in {args.workers} processes on {args.broker}; reconnect_max_rate {args.rate}/s "
          f"-> spread window {jittered[0]['window_s']:.1f} s; {args.records} records each before and during a "
          f"{args.down_s} s outage; {args.repeats} repeats; machine load (1 min) {min(loads):.1f}-{max(loads):.1f} "
          f"on {os.cpu_count()} cores")
    for name, group in (("with jitter   ", jittered), ("without jitter", lockstep)):
        peaks = ", ".join(str(r["peak_broker"]) for r in group)
        arrived = ", ".join(str(r["peak_arrivals"]) for r in group)
        print(f"  {name}: peak at the broker {median(group, 'peak_broker'):.0f}/s (runs: {peaks}), TCP arrivals "
              f"{median(group, 'peak_arrivals'):.0f}/s (runs: {arrived}); at the clients: "
              f"CONNACKs {median(group, 'peak_clients'):.0f}/s, dials {median(group, 'peak_attempts'):.0f}/s, "
              f"scheduled {median(group, 'peak_intended'):.0f}/s; all back {median(group, 'all_back_s'):.1f} s, "
              f"backlog drained {median(group, 'drained_s'):.1f} s; broker saw {median(group, 'connects_broker'):.0f} "
              f"connects; missing records {max(r['missing'] for r in group)}, duplicates "
              f"{max(r['duplicates'] for r in group)}")
    print(f"  median peak ratio with/without jitter: "
          f"{median(jittered, 'peak_broker') / median(lockstep, 'peak_broker'):.2f}; "
          f"with jitter every run under {args.rate}/s: {all(r['peak_broker'] < args.rate for r in jittered)}")


def plot(args: argparse.Namespace, runs: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for jitter, label in ((True, "with jitter"), (False, "without jitter")):
        group = sorted((r for r in runs if r["jitter"] == jitter), key=lambda r: r["peak_broker"])
        run = group[len(group) // 2]  # the median run by peak
        counts = dict(run["series"])  # seconds without a connect are not in the series
        first = min(counts)
        xs = [first + i for i in range(round(max(counts) - first) + 2)]  # + 1: each bin is a second wide
        ys = [counts.get(x, 0) for x in xs]
        ax.step(xs, ys, where="post", label=f"{label} (peak {run['peak_broker']}/s)")
    ax.axhline(args.rate, color="grey", linestyle="--", label=f"reconnect_max_rate {args.rate:g}/s")
    ax.set_xlabel("seconds after the broker restarted")
    ax.set_ylabel("connects/s counted by the broker")
    ax.set_title(f"Reconnect storm: {args.gateways} gateways, {args.broker}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="processes the gateways are spread over")
    parser.add_argument("--rate", type=float, default=100.0, help="uplink.reconnect_max_rate (connects/s)")
    parser.add_argument("--records", type=int, default=20, help="records per gateway before and during the outage")
    parser.add_argument("--down-s", type=float, default=2.0, help="how long the broker stays down")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--broker", choices=["mosquitto", "nats"], default="mosquitto")
    parser.add_argument("--nats-kill", choices=["all", "one"], default="all",
                        help="nats: kill -9 every node, or only the first (its gateways move to the others)")
    parser.add_argument("--config", default="{}", help="more UplinkConfig fields as JSON")
    parser.add_argument("--dial-threads", type=int, default=0,
                        help="per worker, threads for blocking connects (0: one per gateway)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", default=None, help="write every run's numbers here")
    parser.add_argument("--plot", default=None)
    parser.add_argument("--from-json", default=None, help="report and plot a run saved with --json, run nothing")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    logging.disable(logging.WARNING)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for jitter in ((True, False) if repeat % 2 == 0 else (False, True)):
                run = await storm(args, jitter, Path(tmp) / f"{repeat}-{jitter}")
                print(f"  run {repeat + 1} {'jitter  ' if jitter else 'lockstep'}: peak at broker "
                      f"{run['peak_broker']}/s (arrivals {run['peak_arrivals']}/s), "
                      f"CONNACKs at clients {run['peak_clients']}/s, dials "
                      f"{run['peak_attempts']}/s, scheduled {run['peak_intended']}/s, "
                      f"all back {run['all_back_s']:.1f} s, drained {run['drained_s']:.1f} s, "
                      f"missing {run['missing']}, load {run['load'][0]:.1f}",
                      flush=True)
                runs.append(run)
    return runs


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop brokers and workers on a kill too
    arguments = parse_args()
    if arguments.from_json:
        saved = json.loads(Path(arguments.from_json).read_text())
        arguments = argparse.Namespace(**{**saved["args"], "plot": arguments.plot, "json": None})
        results = saved["runs"]
    else:
        results = asyncio.run(main(arguments))
    report(arguments, results)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"args": vars(arguments), "runs": results}, indent=1))
    if arguments.plot:
        plot(arguments, results, arguments.plot)
        print(f"  plot: {arguments.plot}")
