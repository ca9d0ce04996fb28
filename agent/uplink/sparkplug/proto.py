"""The generated protobuf module, typed for mypy as ``Any`` (there are no stubs for protoc's output)."""

from __future__ import annotations

import importlib
from typing import Any

pb: Any = importlib.import_module("agent.uplink.sparkplug.sparkplug_b_pb2")
