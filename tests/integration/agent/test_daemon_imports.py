"""A sensor-only ``edgepost run`` keeps out of memory what its config does not use (goal P7, issue 10).

The real CLI and daemon in a subprocess (a Modbus RTU line on a socat pty with simulated devices, a real
mosquitto), stopped with SIGTERM; the harness lists the modules it had imported.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.agent.conftest import Pole

UNUSED = {
    "cv2": "the camera driver's OpenCV",
    "numpy": "the camera driver's arrays",
    "onnxruntime": "the camera driver's inference",
    "drivers.camera": "the camera driver and its config model (not configured)",
    "drivers.dlt645": "the DL/T 645 driver and its config model (not configured)",
    "rich": "the technician commands' terminal output",
    "agent.cli.buffer_cmd": "a technician command",
    "agent.cli.diagnose_cmd": "a technician command",
    "drivers.modbus.cli": "the Modbus technician commands",
    "drivers.modbus.simulator": "the Modbus simulator",
    "prometheus_client": "metrics (not configured)",
    "google.protobuf": "Sparkplug B payloads (the uplink namespace is json)",
    "agent.uplink.sparkplug.session": "the Sparkplug session (the uplink namespace is json)",
    "pymodbus.client": "pymodbus' client (Modbus TCP only; RTU has its own master)",
}


def imported_by_run(pole: Pole, out: Path) -> set[str]:
    pole.start_agent(env={"EDGEPOST_MODULES_OUT": str(out)}, module="tests.integration.agent.modules_harness")
    pole.wait_log("agent_ready", timeout=120)
    assert pole.stop_agent() == 0, pole.log()[-3000:]
    return set(out.read_text().split())


def test_a_sensor_only_agent_imports_no_unused_feature(pole: Pole, tmp_path: Path) -> None:
    modules = imported_by_run(pole, tmp_path / "modules.txt")
    assert {"agent.daemon", "drivers.modbus.driver", "drivers.modbus.rtu_transport"} <= modules  # it really ran
    loaded = {name: why for name, why in UNUSED.items() if name in modules}
    assert not loaded, f"a sensor-only agent imported {loaded}"
