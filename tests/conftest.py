"""Suite-wide collection rules."""

from __future__ import annotations

import pytest

# Tests that share one session-scoped artefact run in one pytest-xdist worker (`--dist loadgroup`),
# so the artefact is built once: the .debs of tests/integration/packaging (a few minutes to build).
_GROUPS = {"integration/packaging/": "deb"}
# The tests that build the .debs (`make test-deb`; `make test` leaves them out to keep CI under 15 min)
_DEB_BUILDERS = ("test_deb.py", "test_deb_sandbox.py", "test_deb_camera.py")
# Minutes of CPU between them (H.264/H.265 decoding at 25 fps, the whole demo, a 3-node NATS cluster,
# 20 gateways, rig runs that rig-ci repeats): `make test-long`, so CI's `make test` stays under 15 min.
_LONG = ("test_daemon_rtsp_day.py", "test_demo_care.py", "test_nats_cluster_failover.py",
         "test_reconnect_storm_small.py", "test_rig_run.py", "test_field_acceptance.py")


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook, which reads the marks into node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        for folder, group in _GROUPS.items():
            if f"/tests/{folder}" in path:
                item.add_marker(pytest.mark.xdist_group(group))
        if item.path.name in _DEB_BUILDERS:
            item.add_marker(pytest.mark.deb)
        if item.path.name in _LONG:
            item.add_marker(pytest.mark.long)
