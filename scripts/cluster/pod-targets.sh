#!/usr/bin/env bash
# Prometheus discovery for the local cluster: Debian's Prometheus is built without Kubernetes
# service discovery, so this loop asks the API server for the running pods of a namespace every few
# seconds and writes them as a file_sd target file (atomically), one target per container port
# named $METRICS_PORT_NAME, labelled with the pod and its component. Started by infra.sh.
#   scripts/cluster/pod-targets.sh NAMESPACE OUTPUT.json
set -euo pipefail
INFRA_NAME="pod-targets"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_path
namespace="$1" output="$2"
template='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{" "}{.status.podIP}{" "}{.metadata.labels.app\.kubernetes\.io/component}{" "}{range .spec.containers[*].ports[?(@.name=="'"$METRICS_PORT_NAME"'")]}{.containerPort}{end}{"\n"}{end}'
while true; do
  if pods="$(kubectl --request-timeout=5s -n "$namespace" get pods -o jsonpath="$template" 2>/dev/null)"; then
    {
      printf '['
      sep=''
      while read -r pod ip component port; do
        [[ -n "$port" && -n "$ip" ]] || continue
        printf '%s{"targets":["%s:%s"],"labels":{"namespace":"%s","pod":"%s","component":"%s"}}' "$sep" "$ip" "$port" "$namespace" "$pod" "$component"
        sep=','
      done <<<"$pods"
      printf ']\n'
    } >"$output.tmp"
    mv "$output.tmp" "$output"
  fi
  sleep 3
done
