# edgepost developer entry points. `make test` and `make demo` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := mosquitto mosquitto-clients socat openssl \
	gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly systemd dpkg-dev faketime

.PHONY: test lint typecheck pytest rig-ci demo deps apt-deps bench deb clean

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

pytest: deps
	$(BIN)/pytest

# The rig's CI set: every shipped scenario not marked ci: {enabled: false}, times compressed.
rig-ci: deps
	$(BIN)/edgepost rig run --short --ci --out rig-results rig/scenarios

demo: deps
	$(BIN)/python -m tests.demo

bench: deps
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Offline-installable .deb (venv in /opt/edgepost, pinned wheels); prints the path of the package.
deb: deps
	bash packaging/build_deb.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache rig-results
