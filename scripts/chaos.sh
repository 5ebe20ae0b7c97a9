#!/usr/bin/env bash
# `make chaos`: the fault-injection suite (test/chaos) against the real servers, on its own.
# It kills services and stops/starts Kafka and Postgres through scripts/infra, so nothing else may
# run against those servers meanwhile. CHAOS_SHORT=1 is the few-minute form CI runs;
# CHAOS_SKIP_INFRA=1 leaves Kafka and Postgres up; CHAOS_SEED replays a fault order, CHAOS_RATE sets submissions per second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/infra/up.sh
npx tsc -b
exec npx vitest run --config test/chaos/vitest.config.ts "$@"
