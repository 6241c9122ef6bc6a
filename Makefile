# One entry point for a fresh machine: `make test` creates .venv, installs everything,
# builds (or reuses) the control plane, the real node and the image, and runs lint, type checks
# and every test. `make up` runs the whole system on this machine; `make down` removes it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: test venv controlplane gitops-tools node node-packages node-binaries images metrics lint typecheck unit integration e2e up down crds chart-files clean

# On a fresh machine the builds take ~25 minutes, and venv, lint, type checks, unit and integration
# tests need no more than the control plane: the builds run in the background (the image beside
# the Go builds, niced, in their own process group) while those stages run, and a stage that needs
# a build waits for it (hack/lib/lock.sh).
test:
	@builds=$$(mktemp); \
	setsid nice -n 10 bash -c '$(MAKE) --no-print-directory images & images=$$!; \
		$(MAKE) --no-print-directory controlplane gitops-tools node-binaries metrics; rc=$$?; \
		wait $$images || rc=1; echo "background builds: $${SECONDS}s, exit $$rc"; exit $$rc' >$$builds 2>&1 & pid=$$!; \
	trap 'kill -- -$$pid 2>/dev/null; rm -f $$builds' EXIT; trap 'exit 130' INT TERM; \
	$(MAKE) --no-print-directory venv lint typecheck unit integration || exit 1; \
	wait $$pid; rc=$$?; cat $$builds; \
	[ $$rc -eq 0 ] || exit $$rc; \
	$(MAKE) --no-print-directory e2e

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

controlplane:
	bash hack/build-controlplane.sh >/dev/null

# kstatus, upstream CRDs (KEDA, Prometheus Operator, Argo CD, Flux), prometheus and promtool
gitops-tools:
	bash hack/build-gitops-tools.sh >/dev/null
	bash hack/install-prometheus.sh >/dev/null

# the real node: Debian's containerd, runc, CNI plugins, buildah (root); kubelet, kube-proxy,
# CoreDNS, versitygw from Go modules; the image from the Dockerfile; its metrics pipeline (Prometheus,
# prometheus-adapter, metrics-server from Go modules). Each cached after its first run.
node: controlplane node-packages node-binaries images metrics

node-packages:
	bash hack/install-node-packages.sh

node-binaries:
	bash hack/build-node.sh >/dev/null

images: node-packages
	bash hack/build-images.sh >/dev/null

metrics:
	bash hack/build-metrics.sh >/dev/null

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy
	# each benchmark is a folder of scripts importing their siblings and bench/benchlib.py: one mypy
	# run per folder
	for dir in bench/*/; do MYPYPATH=$$dir:bench $(BIN)/mypy $$dir || exit 1; done

unit: venv
	$(BIN)/pytest tests/unit tests/component -m 'not integration' $(PYTEST_ARGS)

integration: venv controlplane gitops-tools
	$(BIN)/pytest tests/integration -m integration $(PYTEST_ARGS)

e2e: venv node
	$(BIN)/pytest tests/e2e -m e2e $(PYTEST_ARGS)

up: venv node
	$(BIN)/python -m modelops.testing.up up

down: venv
	$(BIN)/python -m modelops.testing.up down

crds: venv
	$(BIN)/python -m modelops.api.crdgen

# prometheus-adapter rules and the Grafana dashboard in charts/modelops/files/
chart-files: venv
	$(BIN)/python -m modelops.observability

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
