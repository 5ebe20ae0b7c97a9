#!/usr/bin/env bash
# `make cluster-test`: the local cluster from nothing, Conveyor on it, the cluster tests
# (test/cluster, vitest), then `down.sh --verify`, which fails if anything was left on the machine.
# When a test fails, every pod that is not healthy is printed with its logs (report.sh).
# CLUSTER_KEEP=1 leaves the cluster running afterwards (to look around; `make cluster-down` later).
set -euo pipefail
INFRA_NAME=cluster-test
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

timings=()
timed() {
  local started=$SECONDS name="$1" rc=0
  shift
  "$@" || rc=$?
  timings+=("$name $((SECONDS - started))s")
  return "$rc"
}

status=0
timed build "$CLUSTER_DIR/build.sh"
timed cluster-up "$CLUSTER_DIR/up.sh" || status=$?
if ((status == 0)); then timed deploy "$CLUSTER_DIR/deploy.sh" || status=$?; fi
if ((status == 0)); then
  cluster_path
  weigh_pods
  export CLUSTER_RUN_DIR="$CLUSTER_RUN" CLUSTER_BRIDGE_IP="$BRIDGE_IP" CLUSTER_OTLP_PORT="$CLUSTER_OTLP_PORT"
  export CLUSTER_ENTRY_URL="http://$BRIDGE_IP:$INGRESS_NODE_PORT" CLUSTER_PROMETHEUS_URL="http://127.0.0.1:$CLUSTER_PROMETHEUS_PORT"
  export CLUSTER_DATABASE_URL="postgres://conveyor:conveyor@$BRIDGE_IP:$CLUSTER_PG_PORT/conveyor"
  export CLUSTER_SQS_URL="http://$BRIDGE_IP:$CLUSTER_SQS_PORT"
  timed tests npx vitest run --config test/cluster/vitest.config.ts || status=$?
  if ((status != 0)); then "$CLUSTER_DIR/report.sh" conveyor || true; fi
fi
if [[ "${CLUSTER_KEEP:-}" == 1 ]]; then
  log "CLUSTER_KEEP=1: the cluster stays up (make cluster-down removes it)"
else
  timed cluster-down "$CLUSTER_DIR/down.sh" --verify || status=$?
fi
log "timings: ${timings[*]}"
exit "$status"
