# Chatter: `make run` serves the API on :8080, `make test` runs the test suite.
# Both set everything up first (virtualenv, packages, local MariaDB/Redis when needed).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test lint bench migrate openapi clean system-deps cluster-test

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint,bench]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# MariaDB and Redis binaries, only when the configured services are unreachable (Debian: apt-get).
system-deps:
	@bash tools/system-deps.sh

# make run WORKERS=2: several worker processes (gunicorn + the Redis event bus).
WORKERS ?=
run: install system-deps
	$(PY) -m server run $(if $(WORKERS),--workers $(WORKERS))

# The browser tests also need Debian's chromium (installed when missing).
test: install
	@bash tools/system-deps.sh --browser
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

migrate: install system-deps
	$(PY) -m server migrate

openapi: install
	$(PY) -m server openapi > openapi.json

# make bench BENCH_ARGS="--scenario hello feed --workers 1 --duration 5" for a shorter run.
BENCH_ARGS ?=
bench: install system-deps
	$(PY) -m bench run $(BENCH_ARGS)

# Several hosts in network namespaces (root): 3 app hosts behind HAProxy, MariaDB primary + replica,
# Redis + Sentinel, with failures on purpose. README.md "Running on several hosts".
# make cluster-test CLUSTER_ARGS="--pairs 40 --rate 20" for a lighter run (default: 200 pairs, 60 msg/s).
CLUSTER_ARGS ?=
cluster-test: install
	@bash tools/cluster/deps.sh
	$(PY) -m tests.cluster.run $(CLUSTER_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
