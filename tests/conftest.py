"""Suite-wide collection rules."""

from __future__ import annotations

import pytest

# Tests that share one session-scoped artefact run in one pytest-xdist worker (`--dist loadgroup`),
# so the artefact is built once: the .debs of tests/integration/packaging (a few minutes to build).
_GROUPS = {"integration/packaging/": "deb"}


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook, which reads the marks into node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        for folder, group in _GROUPS.items():
            if f"/tests/{folder}" in path:
                item.add_marker(pytest.mark.xdist_group(group))
