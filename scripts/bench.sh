#!/usr/bin/env bash
# `make bench`: Conveyor against BullMQ and pg-boss on this machine, one command (bench/README.md).
#   scripts/bench.sh            full run (< 20 min): bench/results/latest.json + latency.png + table
#   BENCH_SMOKE=1 scripts/bench.sh   ~30 s run with tiny numbers (CI): asserts the outputs are written
# Env: BENCH_SYSTEMS=conveyor,bullmq,pgboss,pgboss-tuned  BENCH_PROFILE=1 (--cpu-prof on Conveyor's services)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

# The peers and the chart tools live in bench/'s own package, outside the workspaces.
if [[ ! -f bench/node_modules/.package-lock.json || bench/package.json -nt bench/node_modules/.package-lock.json ]]; then
  # `npm ci` refuses this lock (npm 11 reports msgpackr-extract's other-platform optional
  # packages as missing even from a freshly generated lock); install honours the lock all the same.
  (cd bench && npm install --no-audit --no-fund --no-workspaces)
fi
if ! command -v rsvg-convert >/dev/null; then
  apt-get update -qq && apt-get install -y -qq librsvg2-bin >/dev/null
fi
# Postgres, Kafka and the SNS/SQS/S3 emulator for Conveyor, Redis for BullMQ (a no-op where running).
# Only what is down: a server another checkout started (other cache dir) must be left alone.
missing=()
# shellcheck disable=SC2016 # expanded by the inner bash, on purpose
for pair in postgres:55432 kafka:19092 sqs:4566 redis:16379; do
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "${pair#*:}" 2>/dev/null || missing+=("${pair%%:*}")
done
if ((${#missing[@]})); then scripts/infra/up.sh "${missing[@]}"; fi
npx tsc -b

rm -f bench/results/latest.json bench/results/latency.png
started=$SECONDS
node --import "$ROOT/bench/node_modules/tsx/dist/loader.mjs" bench/src/main.ts
for f in bench/results/latest.json bench/results/latency.png; do
  [[ -s "$f" ]] || { echo "bench: $f was not written" >&2; exit 1; }
done
# shellcheck disable=SC2016 # JavaScript template literal, not shell
node -e 'const r = require(process.argv[1]); const s = Object.keys(r.results); if (!s.length) throw new Error("no systems in latest.json"); console.log(`bench: ${s.join(", ")} in ${r.durationSeconds} s -> bench/results/latest.json, bench/results/latency.png`)' "$ROOT/bench/results/latest.json"
echo "bench: finished in $((SECONDS - started))s"
# The smoke run also proves that an interrupted bench stops the services it started.
if [[ "${BENCH_SMOKE:-}" == 1 ]]; then
  node --import "$ROOT/bench/node_modules/tsx/dist/loader.mjs" bench/src/interrupt-check.ts
fi
