"""results.json: the whole run, machine-readable."""

from __future__ import annotations

from pathlib import Path

import orjson

from rig.results import RunResult


def write_json(result: RunResult, path: Path) -> Path:
    path.write_bytes(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return path
