#!/usr/bin/env bash
# `make up`: Conveyor on a local kind cluster. Safe to re-run: every step converges.
#   1. prerequisites (docker, kind, kubectl, helm)   2. cluster from kind-config.yaml
#   3. infrastructure from k8s/ (pinned versions in k8s/versions.env)
#   4. images built from the Dockerfile and `kind load`ed   5. the chart with ci/kind-values.yaml
#   6. readiness, then the URLs and a first job through the ingress
# Env: LOCALSTACK_AUTH_TOKEN + LOCALSTACK_TAG for LocalStack images newer than 4.14.0;
#      CONVEYOR_IMAGE_TAG (default dev); SKIP_BUILD=1 to reuse loaded images.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
# shellcheck source=k8s/versions.env source-path=SCRIPTDIR/..
source k8s/versions.env
CLUSTER=conveyor
RELEASE=conveyor
NAMESPACE=conveyor
IMAGE_TAG="${CONVEYOR_IMAGE_TAG:-dev}"
TARGETS=(gateway api bridge worker scheduler tools)
HOST=conveyor.localtest.me

log() { printf '\033[1m[up]\033[0m %s\n' "$*"; }
die() {
  printf '[up] ERROR: %s\n' "$*" >&2
  exit 1
}

check_prerequisites() {
  local missing=0
  command -v docker >/dev/null || { echo "  - docker: install Docker Desktop or Docker Engine (https://docs.docker.com/get-docker/)" >&2; missing=1; }
  command -v kind >/dev/null || { echo "  - kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation (go install sigs.k8s.io/kind@v0.30.0)" >&2; missing=1; }
  command -v kubectl >/dev/null || { echo "  - kubectl: https://kubernetes.io/docs/tasks/tools/" >&2; missing=1; }
  command -v openssl >/dev/null || { echo "  - openssl: from your OS packages (makes the gateway's dev signing key)" >&2; missing=1; }
  command -v helm >/dev/null || { echo "  - helm 3: https://helm.sh/docs/intro/install/ (or scripts/chart-test.sh builds one into .cache/tools/bin)" >&2; missing=1; }
  ((missing == 0)) || die "missing prerequisites (above)"
  docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer: start Docker and retry"
}

create_cluster() {
  if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    log "cluster $CLUSTER exists"
  else
    log "creating kind cluster $CLUSTER ($KIND_NODE_IMAGE)"
    kind create cluster --config kind-config.yaml --image "$KIND_NODE_IMAGE" --wait 120s
  fi
  kubectl config use-context "kind-$CLUSTER" >/dev/null
}

# helm_install RELEASE CHART VERSION NAMESPACE VALUES [extra args...]
helm_install() {
  local release="$1" chart="$2" version="$3" namespace="$4" values="$5"
  shift 5
  log "installing $release ($chart $version)"
  helm upgrade --install "$release" "$chart" --version "$version" --namespace "$namespace" --create-namespace \
    --values "$values" --wait --timeout 10m "$@"
}

install_infrastructure() {
  helm repo add ingress-nginx https://kubernetes.github.io/ingress-nginx --force-update >/dev/null
  helm repo add kedacore https://kedacore.github.io/charts --force-update >/dev/null
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
  helm repo add open-telemetry https://open-telemetry.github.io/opentelemetry-helm-charts --force-update >/dev/null
  helm repo update >/dev/null

  kubectl apply -f k8s/namespaces.yaml
  if [[ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]]; then
    kubectl -n infra create secret generic localstack-auth --from-literal=token="$LOCALSTACK_AUTH_TOKEN" \
      --dry-run=client -o yaml | kubectl apply -f -
  fi
  kubectl apply -f k8s/postgres.yaml -f k8s/kafka.yaml -f k8s/jaeger.yaml
  # The tag is pinned in the manifest; a newer one (with LOCALSTACK_AUTH_TOKEN) replaces it here.
  sed "s|localstack/localstack:4.14.0|localstack/localstack:${LOCALSTACK_TAG}|" k8s/localstack.yaml | kubectl apply -f -

  helm_install ingress-nginx ingress-nginx/ingress-nginx "$INGRESS_NGINX_CHART_VERSION" ingress-nginx k8s/values/ingress-nginx.yaml
  helm_install keda kedacore/keda "$KEDA_CHART_VERSION" keda k8s/values/keda.yaml
  helm_install kube-prometheus-stack prometheus-community/kube-prometheus-stack "$KUBE_PROMETHEUS_STACK_CHART_VERSION" \
    monitoring k8s/values/kube-prometheus-stack.yaml
  helm_install otel-collector open-telemetry/opentelemetry-collector "$OTEL_COLLECTOR_CHART_VERSION" observability \
    k8s/values/otel-collector.yaml

  log "waiting for Postgres, Kafka, LocalStack and Jaeger"
  kubectl -n infra rollout status statefulset/postgres --timeout 5m
  kubectl -n infra rollout status statefulset/kafka --timeout 5m
  kubectl -n infra rollout status deployment/localstack --timeout 5m
  kubectl -n observability rollout status deployment/jaeger --timeout 5m
}

build_images() {
  if [[ "${SKIP_BUILD:-}" == 1 ]]; then
    log "SKIP_BUILD=1: using the images already loaded"
    return
  fi
  local target images=()
  for target in "${TARGETS[@]}"; do
    log "building conveyor/$target:$IMAGE_TAG"
    docker build --target "$target" -t "conveyor/$target:$IMAGE_TAG" .
    images+=("conveyor/$target:$IMAGE_TAG")
  done
  log "loading the images into kind"
  kind load docker-image --name "$CLUSTER" "${images[@]}"
}

install_chart() {
  # One dev signing key for every gateway replica, kept across runs (dev tokens survive re-runs).
  local key="$REPO_ROOT/.run/kind/jwt-dev-signing-key.pem"
  if [[ ! -s "$key" ]]; then
    mkdir -p "$(dirname "$key")"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key"
  fi
  log "installing the conveyor chart (migrations and provisioning run first, as hooks)"
  # Pods must roll even when the tag (dev) stays the same: the image ids differ.
  helm upgrade --install "$RELEASE" charts/conveyor --namespace "$NAMESPACE" --create-namespace \
    --values charts/conveyor/ci/kind-values.yaml --set image.tag="$IMAGE_TAG" --set-file gateway.devSigningKey="$key" \
    --set-string "defaults.podAnnotations.conveyor\.dev/built=$(date +%s)" \
    --wait --timeout 10m
  helm test "$RELEASE" --namespace "$NAMESPACE" --timeout 2m
}

first_job() {
  local base="http://$HOST" token reply
  log "first job through the ingress ($base)"
  token="$(curl -fsS -X POST "$base/auth/login" -H 'content-type: application/json' \
    -d '{"email":"demo@example.com","password":"demo-password"}' | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')" ||
    die "login through $base failed: is port 80 free on this machine? (kubectl -n ingress-nginx get pods)"
  reply="$(curl -fsS -X POST "$base/jobs" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"type":"noop","payload":{}}')" || die "POST /jobs failed"
  printf '  POST /jobs -> %s\n' "$reply"
}

print_urls() {
  cat <<EOF

Conveyor is up on kind cluster "$CLUSTER".
  API (gateway):  http://$HOST            (dev users: demo@example.com / demo-password)
  Grafana:        http://grafana.localtest.me   (admin / conveyor; dashboards labelled grafana_dashboard=1)
  Jaeger:         http://jaeger.localtest.me
  Try it:
    TOKEN=\$(curl -s -X POST http://$HOST/auth/login -H 'content-type: application/json' \\
      -d '{"email":"demo@example.com","password":"demo-password"}' | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
    curl -s -X POST http://$HOST/jobs -H "authorization: Bearer \$TOKEN" -H 'content-type: application/json' \\
      -d '{"type":"noop","payload":{}}'
  Remove everything: make down
EOF
}

check_prerequisites
create_cluster
install_infrastructure
build_images
install_chart
first_job
print_urls
