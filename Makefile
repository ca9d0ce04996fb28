# edgepost developer entry points. `make test` and `make demo` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := mosquitto mosquitto-clients socat openssl \
	gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly systemd dpkg-dev nats-server faketime \
	debhelper dh-virtualenv python3.11-venv lintian

.PHONY: test lint typecheck pytest rig-ci demo deps apt-deps bench bench-smoke deb test-deb test-long test-deb-camera clean sparkplug-proto \
	nats-cluster test-cluster

test: deps lint typecheck rig-ci pytest

deps: apt-deps $(VENV)/.installed

# Install system packages only when one is missing (root on CI; sudo elsewhere if available).
apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "apt: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c requirements.lock -e '.[camera,dev,rig]'
	$(BIN)/pip install -q --no-deps -c requirements.lock rapidocr-onnxruntime
	touch $@

lint: deps
	$(BIN)/ruff check agent drivers rig tests bench

typecheck: deps
	$(BIN)/mypy agent drivers rig

# Most tests wait on devices, brokers and daemons, so workers overlap that waiting on 2 cores; tests
# sharing a session artefact (the .debs) stay in one worker (tests/conftest.py, --dist loadgroup).
PYTEST_WORKERS ?= 4
# The package tests (they build the .debs: minutes of CPU) run under `make test-deb`, and the tests of
# minutes each (a 1.3 s slow device polled until it proves its point) under `make test-long`, not here:
# CI must finish in 15 minutes. The rig's slow-device scenario in rig-ci covers the late replies.
pytest: deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not deb and not long"

test-long: deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m long

# The sensor-only package built, unpacked, linted and installed in a dpkg sandbox (tests/integration/packaging).
test-deb: deps
	$(BIN)/pytest -p no:randomly -m deb tests/integration/packaging

# The rig's CI set: every shipped scenario not marked ci: {enabled: false}, times compressed.
RIG_JOBS ?= 2
rig-ci: deps
	$(BIN)/edgepost rig run --short --ci --jobs $(RIG_JOBS) --out rig-results rig/scenarios

demo: deps
	$(BIN)/python -m tests.demo

# Every bench, full length (~1 h: P7's 1 h soak runs beside the others; BENCH_SOAK_S=600 for a shorter one): one
# results file in bench/results/ (+ latest.json) and README's measured section rendered from it.
bench: deps
	$(BIN)/python bench/run.py --mode full

# A short version of every bench (~90 s); fails when a same-run ratio is 2x worse than its bench's floor.
bench-smoke: deps
	$(BIN)/python bench/run.py --mode smoke

# The .debs (debhelper + dh-virtualenv; see packaging/build_deb.sh): edgepost (sensor-only venv in
# /opt/edgepost) and edgepost-camera (onnxruntime, OpenCV, numpy, models). Prints their paths.
# Needs only the apt packages, not the dev venv. CAMERA=0 builds edgepost alone.
deb: apt-deps
	bash packaging/build_deb.sh

# A 3-node NATS cluster (JetStream + MQTT per node) on loopback until Ctrl-C; prints each node's ports.
nats-cluster: deps
	$(BIN)/python -m tests.fixtures.nats_cluster /tmp/edgepost-nats-$$$$

# The cluster failover test alone, with its measured pause printed.
test-cluster: deps
	$(BIN)/pytest tests/integration/uplink/test_nats_cluster_failover.py -s -p no:randomly

# Regenerate agent/uplink/sparkplug/sparkplug_b_pb2.py from its .proto (committed; runtime needs only protobuf).
GRPCIO_TOOLS := grpcio-tools==1.85.4
sparkplug-proto:
	$(PY) -m venv /tmp/edgepost-protoc && /tmp/edgepost-protoc/bin/pip install -q '$(GRPCIO_TOOLS)'
	cd agent/uplink/sparkplug && /tmp/edgepost-protoc/bin/python -m grpc_tools.protoc --proto_path=. --python_out=. sparkplug_b.proto

# The camera package built, unpacked, linted and installed in a sandbox (~300 MB, minutes on a
# fresh machine: not part of `make test`, whose deb tests build edgepost alone).
test-deb-camera: deps
	EDGEPOST_TEST_CAMERA_DEB=1 $(BIN)/pytest -q -p no:randomly tests/integration/packaging/test_deb_camera.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache rig-results

# docs/profile-format.md and docs/simulator-spec.md from the models (a test fails when they are stale).
.PHONY: reference-docs
reference-docs: deps
	$(BIN)/python docs/generate_reference.py
