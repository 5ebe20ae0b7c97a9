#!/usr/bin/env bash
# Prints every pod of a namespace that is not Running and ready (or has restarted), with its
# status, events and the logs of its containers (the previous run's too): what a failing
# `make cluster-test` shows instead of a bare timeout.
#   scripts/cluster/report.sh [NAMESPACE]   (default conveyor)
set -euo pipefail
INFRA_NAME=cluster-report
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_path
NAMESPACE="${1:-conveyor}"
found=0
while read -r pod phase ready restarts; do
  [[ -n "$pod" ]] || continue
  if [[ "$phase" == Running && "$ready" != *false* && "${restarts:-0}" == 0 ]] || [[ "$phase" == Succeeded ]]; then continue; fi
  found=1
  printf '\n===== pod %s: phase %s, ready %s, restarts %s =====\n' "$pod" "$phase" "$ready" "$restarts"
  kubectl -n "$NAMESPACE" get pod "$pod" -o jsonpath='{range .status.containerStatuses[*]}{.name}: {.state}{" last: "}{.lastState}{"\n"}{end}' || true
  kubectl -n "$NAMESPACE" get events --field-selector "involvedObject.name=$pod" --sort-by=.lastTimestamp 2>/dev/null | tail -n 8 || true
  printf -- '----- logs -----\n'
  kubectl -n "$NAMESPACE" logs "$pod" --all-containers --tail=40 2>&1 || true
  if [[ "${restarts:-0}" != 0 ]]; then
    printf -- '----- logs of the previous run -----\n'
    kubectl -n "$NAMESPACE" logs "$pod" --all-containers --previous --tail=40 2>&1 || true
  fi
done < <(kubectl -n "$NAMESPACE" get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.phase}{" "}{.status.containerStatuses[*].ready}{" "}{.status.containerStatuses[0].restartCount}{"\n"}{end}')
((found)) || log "every pod in $NAMESPACE is running and ready"
