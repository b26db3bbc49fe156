# Everything a developer runs. `make test` and `make run` set themselves up first
# (uv bootstrapped into .tools/ if missing, then the locked venv).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
REDIS_PORT ?= 6379
# Trust the system CA store (where a TLS-intercepting proxy's CA is installed).
export UV_NATIVE_TLS ?= 1
SYSTEM_CA := /etc/ssl/certs/ca-certificates.crt
PIP_CERT_OPT := $(if $(wildcard $(SYSTEM_CA)),--cert $(SYSTEM_CA),)

.PHONY: help install run test test-e2e lint format bench images up down clean k8s

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet $(PIP_CERT_OPT) uv==$(UV_VERSION)

install: $(UV) ## bootstrap uv if missing and sync the locked venv
	$(UV) sync --frozen

run: install ## start Redis and every service in the foreground (Ctrl-C stops all)
	REDIS_PORT=$(REDIS_PORT) REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 $(RUN) honcho start -f Procfile

test: install ## unit and integration tests on a real Redis (e2e too when Docker is up)
	$(RUN) pytest

lint: install ## ruff check, ruff format --check, mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy shared services bench

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: install ## benchmarks side by side with RQ (figures in docs/benchmarks.md)
	$(RUN) python bench/worker_throughput.py
	$(RUN) python bench/enqueue_throughput.py
	$(RUN) python bench/enqueue_http.py
	$(RUN) python bench/frontend.py

test-e2e: install ## only the end-to-end suite (real containers; needs a Docker engine)
	$(RUN) pytest tests/e2e

# Kubernetes: render every Kustomize overlay into var/k8s/ and validate the
# built-in kinds offline for the oldest Kubernetes we support (docs/kubernetes.md;
# `pytest tests/k8s` also checks the custom resources and the policies).
K8S_OLDEST := 1.27.0
K8S_OVERLAYS := $(notdir $(wildcard deploy/k8s/overlays/*))

k8s: install ## render every deploy/k8s overlay into var/k8s/ and validate it offline
	@mkdir -p var/k8s
	@set -e; for overlay in $(K8S_OVERLAYS); do \
		kubectl kustomize deploy/k8s/overlays/$$overlay > var/k8s/$$overlay.yaml; \
		echo "rendered var/k8s/$$overlay.yaml"; \
	done
	$(RUN) kubernetes-validate --strict --quiet --no-warn -k $(K8S_OLDEST) $(K8S_OVERLAYS:%=var/k8s/%.yaml)

# Local base images: built with debootstrap, no registry needed (see docs/deploy.md).
BASE_IMAGES := PYTHON_IMAGE=resque-py/python-base:bookworm REDIS_IMAGE=resque-py/redis-base:bookworm
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
WORKERS ?= 2

# The one version of resque-py: every package, image tag and manifest reads it.
VERSION := $(shell cat VERSION)

BASE ?= local
images: ## build resque-py/{redis,enqueuer,worker,frontend,scheduler}:$VERSION (BASE=official: Docker Hub bases)
ifeq ($(BASE),official)
	VERSION=$(VERSION) deploy/docker/build-images.sh
else
	deploy/docker/build-base-images.sh
	$(BASE_IMAGES) VERSION=$(VERSION) deploy/docker/build-images.sh
endif

up: images ## start the Compose stack in the background (make up WORKERS=8)
	$(COMPOSE) -f deploy/compose/compose.yaml up -d --scale worker=$(WORKERS)

down: ## stop the Compose stack (jobs drain: workers stop on SIGQUIT); keeps the Redis volume
	$(COMPOSE) -f deploy/compose/compose.yaml down

clean: ## remove the venv, caches and local Redis data
	rm -rf .venv .tools var .pytest_cache .mypy_cache .ruff_cache
