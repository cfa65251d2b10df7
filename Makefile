# The two commands of the README: `make demo` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests need: GNU Go is the rules oracle and the reference engine; Prometheus
# scrapes the metrics endpoints in the dashboards test; Chromium and its driver run the web dashboard's tests;
# redis-server is also started privately (on a free port) by `arena bench faults` and its test;
# rabbitmq-server runs as a node of the RabbitMQ broker test's own, which restarts it.
APT_PACKAGES := gnugo prometheus chromium chromium-driver redis-server rabbitmq-server
# docker-compose (1.29) checks docker-compose.yml where the docker CLI has no compose plugin;
# without its recommended Docker engine, which the check does not need.
APT_PACKAGES_BARE := docker-compose
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-test apt-packages services bench clean proto

# DEMO_ARGS: e.g. the reduced size CI runs (see `test`).
demo: install
	$(BIN)/arena demo $(DEMO_ARGS)

test: install-test apt-packages services
	# Storage tests on the embedded PostgreSQL (the default without ARENA_DATABASE_URL), then
	# the whole suite, whose storage tests use the server at 127.0.0.1:5432 when it answers.
	ARENA_TEST_EMBEDDED=1 $(BIN)/python -m pytest -q tests/arena/db
	$(BIN)/python -m pytest
	# The demo itself, reduced, on a fresh embedded database and filesystem broker.
	demo_dir=$$(mktemp -d) && env -u ARENA_DATABASE_URL -u ARENA_BROKER_URL ARENA_DATA_DIR=$$demo_dir \
		$(BIN)/arena demo --games-per-pairing 2 --visits 8 --ladder 2,32 && rm -rf $$demo_dir

bench: install-test
	$(BIN)/arena bench rules --board-size 9
	$(BIN)/arena bench rules --board-size 19
	$(BIN)/arena bench search --board-size 9 --visits 200 --games 64
	$(BIN)/arena bench pipeline --board-size 9 --visits 64 --games 64
	$(BIN)/arena bench triton --board-size 9 --visits 64 --games 64
	$(BIN)/arena bench ratings --players 8 --target-ci 30 --trials 100
	$(BIN)/arena bench faults --games 80 --workers 2

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

apt-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	bare=""; for p in $(APT_PACKAGES_BARE); do dpkg -s $$p >/dev/null 2>&1 || bare="$$bare $$p"; done; \
	if [ -n "$$missing$$bare" ]; then \
		echo "installing Debian packages:$$missing$$bare"; \
		$(SUDO) apt-get update -qq; \
	fi; \
	if [ -n "$$missing" ]; then \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi; \
	if [ -n "$$bare" ]; then \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$bare; \
	fi

# Start this machine's PostgreSQL if it is installed but stopped; without one the storage tests
# run on the embedded server only.
services:
	@if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && \
		! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
		$(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	fi

# Regenerate arena/grpc/generated from proto/ (commit the result; a test checks it is current).
proto: install-test
	$(BIN)/python -m arena.grpc.codegen

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
