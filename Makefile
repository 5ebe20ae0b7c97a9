# Conveyor: every entry point users, CI and tests rely on. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_STAMP := node_modules/.package-lock.json
# Every recipe runs on the project's Node (.nvmrc), which scripts/infra/node.sh brings into the cache.
NODE_HOME := $(or $(CONVEYOR_CACHE_DIR),$(CURDIR)/.cache)/node/$(shell cat .nvmrc)
export PATH := $(NODE_HOME)/bin:$(PATH)

.PHONY: help install build lint migrate provision infra-up infra-down dev start stop status test test-unit \
        bench bench-smoke chaos fuzz chart-test up down cluster-up cluster-down cluster-test check-pools

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(NODE_HOME)/bin/node: .nvmrc
	scripts/infra/node.sh install

$(NODE_STAMP): $(NODE_HOME)/bin/node package.json package-lock.json $(wildcard packages/*/package.json services/*/package.json console/package.json)
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_STAMP) ## npm packages, the local servers (Postgres, Kafka, SNS/SQS/S3 emulator, Prometheus, Redis, Zipkin) and Chromium for the console's tests
	scripts/infra/postgres.sh install
	scripts/infra/kafka.sh install
	scripts/infra/sqs.sh install
	scripts/infra/prometheus.sh install
	scripts/infra/redis.sh install
	scripts/infra/zipkin.sh install
	scripts/infra/chromium.sh install

build: $(NODE_STAMP) ## compile every package and service (tsc -b) and the console the gateway serves (vite)
	npx tsc -b
	npm run build --workspace @conveyor/console

lint: $(NODE_STAMP) ## eslint, type-check of the tests, shellcheck
	npx eslint .
	npx tsc -p tsconfig.check.json
	@command -v shellcheck >/dev/null || (apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null)
	shellcheck -x scripts/*.sh scripts/infra/*.sh scripts/tools/*.sh scripts/cluster/*.sh .ci/run

infra-up: ## start Postgres, Kafka, the SNS/SQS/S3 emulator, Prometheus, Redis and Zipkin (installs them first)
	scripts/infra/up.sh

infra-down: ## stop the local servers (data is kept in .run/)
	scripts/infra/down.sh

migrate: build ## apply database migrations to the dev database
	scripts/dev-env.sh node packages/jobs/dist/migrate-cli.js

provision: build ## create Kafka topics, the SNS topic, SQS queues + DLQs and the results bucket (idempotent)
	scripts/dev-env.sh node packages/jobs/dist/provision-cli.js

check-pools: build ## check the WorkerPool manifests named in CONVEYOR_WORKER_POOLS, whose pools dev and start run
	scripts/services.sh check

# check-pools first: a wrong team manifest stops them before anything starts.
dev: check-pools infra-up build migrate provision ## everything on this machine, in the foreground (Ctrl-C stops)
	scripts/services.sh run

start: check-pools infra-up build migrate provision ## the same in the background; returns once every /readyz answers
	scripts/services.sh start

stop: ## stop the services started by `make start`
	scripts/services.sh stop

status: ## which services run and are ready
	scripts/services.sh status

test: infra-up build lint ## the whole test suite against real servers
	npx vitest run

test-unit: $(NODE_STAMP) ## only the tests that need no server
	npx vitest run --project unit

bench: ## Conveyor against BullMQ and pg-boss on this machine (< 20 min): table, bench/results/latest.json + latency.png
	scripts/bench.sh

bench-smoke: ## the benchmark with tiny numbers (CI): fails unless its outputs are written
	BENCH_SMOKE=1 scripts/bench.sh

chaos: infra-up build ## fault injection under load: kill -9 every service, Kafka/Postgres restarts, purged queue, latency (CHAOS_SHORT=1: a few minutes)
	scripts/chaos.sh

fuzz: infra-up build ## schemathesis against the gateway's OpenAPI document (also part of make test)
	npx vitest run test/hostile/fuzz.test.ts

chart-test: $(NODE_STAMP) ## Helm chart + k8s/: helm lint, helm-unittest, kubeconform -strict, names vs topology() (no cluster needed)
	scripts/chart-test.sh

up: ## Conveyor on a local kind cluster (needs docker, kind, kubectl, helm); safe to re-run
	scripts/kind-up.sh

down: ## delete the kind cluster of `make up`
	scripts/kind-down.sh

cluster-up: $(NODE_STAMP) ## Conveyor on a real local Kubernetes cluster without Docker (built from the registries; root)
	scripts/cluster/up.sh
	scripts/cluster/deploy.sh

cluster-down: ## stop the cluster of `make cluster-up`; leaves no process, mount, link or iptables rule
	scripts/cluster/down.sh

cluster-test: $(NODE_STAMP) ## cluster-up, the tests of test/cluster through the public entry, cluster-down --verify
	scripts/cluster/test.sh
