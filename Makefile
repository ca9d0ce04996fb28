# edgepost developer entry points. `make test` and `make demo` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := mosquitto mosquitto-clients socat openssl \
	gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly systemd dpkg-dev \
	debhelper dh-virtualenv python3.11-venv lintian

.PHONY: test lint typecheck pytest demo deps apt-deps bench deb test-deb-camera clean

test: deps lint typecheck pytest

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
	$(BIN)/pip install -q -c requirements.lock -e '.[camera,dev]'
	$(BIN)/pip install -q --no-deps -c requirements.lock rapidocr-onnxruntime
	touch $@

lint: deps
	$(BIN)/ruff check agent drivers tests bench

typecheck: deps
	$(BIN)/mypy agent drivers

pytest: deps
	$(BIN)/pytest

demo: deps
	$(BIN)/python -m tests.demo

bench: deps
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The .debs (debhelper + dh-virtualenv; see packaging/build_deb.sh): edgepost (sensor-only venv in
# /opt/edgepost) and edgepost-camera (onnxruntime, OpenCV, numpy, models). Prints their paths.
# Needs only the apt packages, not the dev venv. CAMERA=0 builds edgepost alone.
deb: apt-deps
	bash packaging/build_deb.sh

# The camera package built, unpacked, linted and installed in a sandbox (~300 MB, minutes on a
# fresh machine: not part of `make test`, whose deb tests build edgepost alone).
test-deb-camera: deps
	EDGEPOST_TEST_CAMERA_DEB=1 $(BIN)/pytest -q -p no:randomly tests/integration/packaging/test_deb_camera.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
