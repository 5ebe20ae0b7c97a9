#!/usr/bin/env bash
# Conveyor on the local cluster (after scripts/cluster/up.sh): the host servers (infra.sh), the
# images from the Dockerfile and the example team worker's (images.sh, only what changed), the
# public entry (k8s/cluster/entry.yaml) and the chart with ci/cluster-values.yaml, `helm upgrade
# --install --wait`, then `helm test`.
# A release that does not become ready is reported with its failing pods' status and logs.
#   scripts/cluster/deploy.sh [extra helm args...]
set -euo pipefail
INFRA_NAME=cluster-deploy
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_path
RELEASE=conveyor
NAMESPACE=conveyor
VALUES="$REPO_ROOT/charts/conveyor/ci/cluster-values.yaml"

started=$SECONDS
kubectl_ok() { kubectl --request-timeout=5s "$@" >/dev/null 2>&1; }
kubectl_ok get --raw /readyz || die "no cluster answers at $KUBECONFIG_ADMIN: run make cluster-up first"
"$CLUSTER_DIR/infra.sh" start
tag="$("$CLUSTER_DIR/images.sh" conveyor | tail -n 1)"
# The example team worker's image, for the cluster test's WorkerPool (test/cluster/team-worker.cluster-test.ts).
"$CLUSTER_DIR/images.sh" team-worker | tail -n 1 >"$CLUSTER_RUN/team-worker.image"
weigh_pods
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f "$REPO_ROOT/k8s/cluster/entry.yaml" >/dev/null
log "helm upgrade --install $RELEASE (images tagged $tag)"
if ! helm upgrade --install "$RELEASE" "$REPO_ROOT/charts/conveyor" --namespace "$NAMESPACE" \
  --values "$VALUES" --set image.tag="$tag" --wait --timeout 6m "$@"; then
  "$CLUSTER_DIR/report.sh" "$NAMESPACE" || true
  die "the release did not become ready (pods above)"
fi
if ! helm test "$RELEASE" --namespace "$NAMESPACE" --timeout 2m; then
  "$CLUSTER_DIR/report.sh" "$NAMESPACE" || true
  die "helm test failed"
fi
log "Conveyor deployed in $((SECONDS - started))s: http://$BRIDGE_IP:$INGRESS_NODE_PORT"
