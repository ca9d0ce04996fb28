"""The real agent for end-to-end benches: ``edgepost run`` as a subprocess, its CPU and RSS from psutil,
its status over the control socket, and a subscriber counting the records that reach the broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.control.client import ControlClient  # noqa: E402
from agent.control.protocol import StatusRequest  # noqa: E402


def agent_config(workdir: Path, drivers_yaml: str, mqtt_port: int, durability: str = "power-safe") -> Path:
    """A config with the shipped defaults except the paths, the broker and the given drivers."""
    state = workdir / "state"
    state.mkdir(parents=True, exist_ok=True)
    config = workdir / "agent.yaml"
    config.write_text(
        "gateway: {id: bench-pole, site: bench}\n"
        f"state_dir: {state}\n"
        f"drivers:\n{drivers_yaml}"
        f"uplink: {{host: 127.0.0.1, port: {mqtt_port}}}\n"
        f"outbox: {{durability: {durability}}}\n"
        f"control: {{socket: {state}/control.sock, group: null}}\n"
    )
    return config


class Agent:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path, socket: Path) -> None:
        self.proc = proc
        self.log = log
        self.socket = socket
        self.ps = psutil.Process(proc.pid)

    def cpu_s(self) -> float:
        """CPU seconds of the agent and any child it started (all threads)."""
        total = 0.0
        for p in [self.ps, *self.ps.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total

    def rss_bytes(self) -> int:
        return int(self.ps.memory_info().rss)

    def uss_bytes(self) -> int:
        return int(self.ps.memory_full_info().uss)

    def status(self) -> dict[str, Any]:
        async def ask() -> dict[str, Any]:
            async with ControlClient(self.socket, timeout_s=60) as client:
                answer: dict[str, Any] = await client.call(StatusRequest())  # type: ignore[assignment]
                return answer

        return asyncio.run(ask())

    def alive(self) -> bool:
        return self.proc.poll() is None


def child_named(name: str) -> psutil.Process:
    """This process's child called ``name`` (e.g. the mosquitto a fixture started)."""
    for child in psutil.Process().children():
        if child.name() == name:
            return child
    raise LookupError(f"no child process named {name}")


def find_sum(tree: Any, key: str) -> float:
    """Sum of every numeric ``key`` anywhere in a status tree (e.g. each device's missed_cycles)."""
    if isinstance(tree, dict):
        return sum((float(v) if k == key and isinstance(v, int | float) else find_sum(v, key)) for k, v in tree.items())
    if isinstance(tree, list):
        return sum(find_sum(v, key) for v in tree)
    return 0.0


@contextmanager
def running_agent(config: Path, workdir: Path, env: dict[str, str] | None = None,
                  ready_timeout_s: float = 300.0) -> Iterator[Agent]:
    """``edgepost run`` until the block ends (SIGTERM, then kill); waits for its ``agent_ready`` line."""
    log = workdir / "agent.log"
    state = workdir / "state"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli.main", "--config", str(config), "run"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + ready_timeout_s
        while "agent_ready" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not start (rc={proc.poll()}):\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Agent(proc, log, state / "control.sock")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


class RecordCounter:
    """A QoS 1 subscriber on the gateway's telemetry that counts records and their delivery lag."""

    def __init__(self, port: int, topic: str = "edgepost/+/telemetry") -> None:
        self.records = 0
        self.messages = 0
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-counter-{os.getpid()}")
        self._client.max_inflight_messages_set(1000)
        self._client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not self._subscribed.wait(30):
            raise TimeoutError("the counting subscriber did not subscribe")

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        payload = msg.payload if msg.payload[:1] == b"{" else zlib.decompress(msg.payload)
        count = len(orjson.loads(payload).get("records", ()))
        with self._lock:
            self.records += count
            self.messages += 1

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.records, self.messages

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
