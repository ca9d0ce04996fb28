"""The onnxruntime boundary: session options, provider choice, and translation of its exceptions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from agent.logs import log_event
from drivers.camera.inference.config import GraphOptimization, InferenceConfig

logger = logging.getLogger(__name__)

# onnxruntime's own exceptions derive from Exception directly; these are all of them we expect.
ORT_ERRORS: tuple[type[BaseException], ...] = (
    ort_state.Fail,
    ort_state.InvalidArgument,
    ort_state.InvalidGraph,
    ort_state.InvalidProtobuf,
    ort_state.NoSuchFile,
    ort_state.NoModel,
    ort_state.NotFound,
    ort_state.NotImplemented,
    ort_state.RuntimeException,
    ort_state.EPFail,
    ort_state.EngineError,
    RuntimeError,
    ValueError,
)

_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_FALLBACK = "CPUExecutionProvider"


@dataclass(frozen=True, slots=True)
class SessionSettings:
    intra_op_threads: int = 0
    graph_optimization: GraphOptimization = "all"
    providers: tuple[str, ...] = (_FALLBACK,)

    @classmethod
    def from_config(cls, config: InferenceConfig) -> SessionSettings:
        return cls(config.intra_op_threads, config.graph_optimization, tuple(config.providers))


_skipped_logged: set[str] = set()


def choose_providers(wanted: Sequence[str], available: Sequence[str] | None = None) -> list[str]:
    """Keep the wanted providers that are installed, in order; CPU always last as the fallback.

    Each unavailable one is logged once per process, not once per session.
    """
    have = set(ort.get_available_providers() if available is None else available)
    chosen: list[str] = []
    for name in wanted:
        if name in have and name not in chosen:
            chosen.append(name)
        elif name not in have and name not in _skipped_logged:
            _skipped_logged.add(name)
            log_event(logger, "inference_provider_skipped", logging.WARNING, provider=name, available=sorted(have))
    if _FALLBACK not in chosen:
        chosen.append(_FALLBACK)
    return chosen


def create_session(model_bytes: bytes, settings: SessionSettings) -> ort.InferenceSession:
    """Build a session from bytes already checksum-verified (no second read of the file). Raises ORT_ERRORS."""
    options = ort.SessionOptions()
    options.graph_optimization_level = _LEVELS[settings.graph_optimization]
    if settings.intra_op_threads:
        options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only; ours are logged as structured events
    return ort.InferenceSession(model_bytes, sess_options=options, providers=choose_providers(settings.providers))
